import type { Logger } from '../log.ts'
import type { HybridClock } from '../store/hlc.ts'
import {
  type ActivationRecord,
  compareActivations,
  pendingCallback,
  type Store,
  statusCode,
} from '../store/index.ts'
import { jobOf } from './jobs.ts'

export interface RecoveryComponents {
  logger: Logger
  store: Store
  clock: HybridClock
  nodeId: string
  /** Whether this process is running the activation now. */
  running: (activationId: string) => boolean
  /** A peer's state in this node's view (`undefined`: not known here). */
  memberState: (peerId: string) => string | undefined
  /** The record from the cluster (the winner by `compareActivations`), or null. */
  fetchRecord: (activationId: string, signal: AbortSignal) => Promise<ActivationRecord | null>
  /** A record resolved here: to its owners. */
  onRecord: (record: ActivationRecord) => void
  /** Takes a queued job up again (this node's first live owner, or its own from before a restart); false when not this node's to take. */
  requeue?: (marker: ActivationRecord, cause: string) => Promise<boolean>
  /** Delivers a finished job's callback its node still owed (QueuedJobs.resumeCallback); false when not this node's. */
  resumeCallback?: (record: ActivationRecord, cause: string) => boolean
}

export interface RecoveryInit {
  /** How often the `running` markers held here are checked, ms. */
  sweepMs: number
  /** Bound on the cluster fetch made before a marker is declared lost, ms. */
  fetchTimeoutMs: number
}

export const RECOVERY_DEFAULTS: RecoveryInit = { sweepMs: 2000, fetchTimeoutMs: 5000 }

/** Markers checked per sweep (the rest wait for the next ones: the window moves). */
const SWEEP_BATCH = 256

/** Up to SWEEP_BATCH ids from the first after `cursor`, wrapping around. */
function window(all: string[], cursor: string): string[] {
  const from = Math.max(
    0,
    all.findIndex((id) => id > cursor),
  )
  return [...all.slice(from), ...all.slice(0, from)].slice(0, SWEEP_BATCH)
}

/**
 * Resolves the `running` markers of activations whose node can no longer finish them. An async
 * invocation stores a marker on its owners before it runs (ActivationService); the marker's `end`
 * is its deadline (start + the action's timeout + a grace). A marker is resolved when the node
 * that drives it is this node and no longer runs it (the agent restarted), when that node is dead
 * or has left in this node's view, or when the deadline has passed. Resolving first looks for the
 * real record on the cluster (a record its node had stored but not pushed yet); failing that it
 * stores a `lost` record: a `whisk internal error` naming the node and the cause. A real record
 * that shows up later still wins (`compareActivations`).
 */
export class ActivationRecovery {
  readonly #c: RecoveryComponents
  readonly #init: RecoveryInit
  #timer: NodeJS.Timeout | null = null
  #sweeping: Promise<void> | null = null
  /** The last marker id the previous sweep looked at. */
  #cursor = ''
  /** The same for the records that owe a completion callback. */
  #callbackCursor = ''

  constructor(components: RecoveryComponents, init: Partial<RecoveryInit> = {}) {
    this.#c = components
    this.#init = { ...RECOVERY_DEFAULTS, ...init }
  }

  /** Sweeps now (markers this node drove before a restart are resolved at once), then periodically. */
  start(): void {
    if (this.#timer) return
    const tick = () => {
      this.#sweeping ??= this.sweep()
        .then(() => {})
        .catch((err: unknown) => this.#c.logger.warn({ err }, 'running-marker sweep failed'))
        .finally(() => {
          this.#sweeping = null
        })
    }
    tick()
    this.#timer = setInterval(tick, this.#init.sweepMs)
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    await this.#sweeping
  }

  /** Checks the markers held here; returns how many it resolved. */
  async sweep(): Promise<number> {
    // A window that moves on each sweep: with thousands of queued jobs' markers held here, every
    // one is looked at in turn (a fixed first window would never reach the rest).
    const all = await this.#c.store.activations.runningIds()
    const ids = window(all, this.#cursor)
    this.#cursor = ids.length < all.length ? (ids.at(-1) ?? '') : ''
    let resolved = 0
    for (const id of ids) {
      const marker = await this.#c.store.activations.get(id)
      if (marker?.phase === 'running' && (await this.resolve(marker))) resolved++
    }
    await this.#sweepCallbacks()
    return resolved
  }

  /** Finished jobs whose callback their node still owes: resumed when that node is dead, has left, or is this one restarted. */
  async #sweepCallbacks(): Promise<void> {
    if (!this.#c.resumeCallback) return
    const all = await this.#c.store.activations.pendingCallbackIds(100_000)
    const ids = window(all, this.#callbackCursor)
    this.#callbackCursor = ids.length < all.length ? (ids.at(-1) ?? '') : ''
    for (const id of ids) {
      const record = await this.#c.store.activations.get(id)
      const pending = record && pendingCallback(record)
      if (!pending) continue
      const node = pending.node
      const state = node === this.#c.nodeId ? 'self' : this.#c.memberState(node)
      const cause =
        state === 'self'
          ? `the agent on node ${node} stopped before the callback was delivered`
          : state === 'dead'
            ? `node ${node} stopped answering before the callback was delivered`
            : state === 'left'
              ? `node ${node} left the cluster before the callback was delivered`
              : null
      if (cause) this.#c.resumeCallback(record, cause)
    }
  }

  /** The record a marker resolves to, or null while its node may still finish the run. */
  async resolve(marker: ActivationRecord, now = Date.now()): Promise<ActivationRecord | null> {
    const cause = this.#cause(marker, now)
    if (!cause) return null
    const id = marker.activationId
    const found = await this.#c
      .fetchRecord(id, AbortSignal.timeout(this.#init.fetchTimeoutMs))
      .catch(() => null)
    if (jobOf(marker) && !(found && found.phase !== 'running')) {
      // A job is run again, never declared lost: unless another node has taken it over already.
      if (found && compareActivations(found, marker) > 0 && found.node !== marker.node) {
        await this.#c.store.activations.putManyIfNewer([found])
        return null
      }
      await this.#c.requeue?.(marker, cause)
      return null
    }
    const record = found && found.phase !== 'running' ? found : this.#lost(marker, cause)
    const [written] = await this.#c.store.activations.putManyIfNewer([record])
    if (written) {
      if (record.phase === 'lost') {
        this.#c.logger.warn({ activationId: id, node: marker.node, cause }, 'activation lost')
      }
      this.#c.onRecord(record)
    }
    return (await this.#c.store.activations.get(id)) ?? record
  }

  #cause(marker: ActivationRecord, now: number): string | null {
    const node = marker.node
    if (node === this.#c.nodeId) {
      if (this.#c.running(marker.activationId)) return null
      return `the agent on node ${node} stopped (killed, crashed or restarted) before the activation ended`
    }
    const state = this.#c.memberState(node)
    if (state === 'dead') return `node ${node} stopped answering before the activation ended`
    if (state === 'left') return `node ${node} left the cluster before the activation ended`
    // A job may wait in its node's queue for long: only its node's death or departure resolves it.
    if (now > marker.end && !jobOf(marker))
      return `no record came from node ${node} by the activation's deadline`
    return null
  }

  #lost(marker: ActivationRecord, cause: string): ActivationRecord {
    const end = Date.now()
    const status = 'whisk internal error'
    return {
      ...marker,
      end,
      duration: Math.max(0, end - marker.start),
      statusCode: statusCode(status),
      response: {
        status,
        statusCode: statusCode(status),
        success: false,
        result: { error: `activation lost: ${cause}; its outcome is unknown` },
      },
      annotations: [...marker.annotations, { key: 'lost', value: { node: marker.node, cause } }],
      hlc: this.#c.clock.now(),
      origin: this.#c.nodeId,
      phase: 'lost',
    }
  }
}
