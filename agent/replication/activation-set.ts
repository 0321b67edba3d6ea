import type { HybridClock } from '../store/hlc.ts'
import type { ActivationRecord, Store } from '../store/index.ts'
import { LeafTable, versionOf } from './digest.ts'
import type { ApplyOutcome } from './function-set.ts'
import { ACT_DEPTH, partitionOf } from './owners.ts'

const rangeOf = (leaf: string) => ({ gte: leaf, lt: `${leaf}g` }) // ids are lowercase hex

/** Sorts before any digit: a marker's or lost record's version compares below every finished one. */
const PHASE_MARK = { running: '!', lost: '#' } as const

/**
 * A record's version for anti-entropy, ordered as `compareActivations` orders records (phase, HLC,
 * origin), so the exchange pulls a finished record over a marker or a lost one. A finished record's
 * version is `${hlc}|${origin}`, as before phases existed.
 */
export function activationVersionOf(r: ActivationRecord): string {
  return versionOf({ hlc: (r.phase ? PHASE_MARK[r.phase] : '') + r.hlc, origin: r.origin })
}

export interface ActivationLimits {
  /** Records that started before this (epoch ms) are expired. */
  floor(): number
  /** Refuses records stamped more than the max drift ahead of this node (see FunctionSet.apply). */
  clock: HybridClock
}

/**
 * Activation records as anti-entropy sees them: leaf hashes per partition (the first hex digits of
 * the id), built once at start by a scan, then recomputed per partition after a change.
 */
export class ActivationSet {
  readonly depth = ACT_DEPTH
  readonly #store: Store
  readonly #limits: ActivationLimits
  readonly #table = new LeafTable()
  readonly #dirty = new Set<string>()
  #ready: Promise<void> | null = null
  #serial: Promise<unknown> = Promise.resolve()
  /** Records held (approximate between recounts: an overwrite counts once more). */
  count = 0

  constructor(store: Store, limits: ActivationLimits) {
    this.#store = store
    this.#limits = limits
  }

  /** A record was stored by someone else (the activation service): its partition's hash is stale. */
  changed(activationId: string, isNew = true): void {
    this.#dirty.add(partitionOf(activationId))
    if (isNew) this.count++
  }

  async table(): Promise<LeafTable> {
    this.#ready ??= this.#build()
    await this.#ready
    for (const leaf of [...this.#dirty]) {
      this.#dirty.delete(leaf)
      const fresh = new LeafTable()
      for await (const r of this.#store.activations.scan(rangeOf(leaf))) {
        fresh.toggle(leaf, r.activationId, activationVersionOf(r))
      }
      this.#table.set(leaf, Buffer.from(fresh.leaf(leaf), 'hex'))
    }
    return this.#table
  }

  async entries(leaves: readonly string[]): Promise<Map<string, Map<string, string>>> {
    const out = new Map<string, Map<string, string>>()
    for (const leaf of leaves) {
      const m = new Map<string, string>()
      for await (const r of this.#store.activations.scan(rangeOf(leaf)))
        m.set(r.activationId, activationVersionOf(r))
      out.set(leaf, m)
    }
    return out
  }

  async get(ids: readonly string[]): Promise<ActivationRecord[]> {
    const out: ActivationRecord[] = []
    for (const id of ids) {
      const r = await this.#store.activations.get(id)
      if (r) out.push(r)
    }
    return out
  }

  /** Stores replicated records unless newer ones are here; per record, whether it was refused and why. */
  applyMany(records: readonly ActivationRecord[]): Promise<ApplyOutcome[]> {
    const next = this.#serial.then(async () => {
      const floor = this.#limits.floor()
      const outcomes = records.map((r): ApplyOutcome => {
        if (this.#limits.clock.tooFarAhead(r.hlc)) return 'future'
        return r.start >= floor ? 'applied' : 'expired'
      })
      const fresh = records.filter((_, i) => outcomes[i] === 'applied')
      const written = await this.#store.activations.putManyIfNewer(fresh)
      for (const [i, r] of fresh.entries()) if (written[i]) this.changed(r.activationId)
      return outcomes
    })
    this.#serial = next.catch(() => {})
    return next
  }

  /** Records deleted by retention. */
  removed(records: readonly ActivationRecord[]): void {
    for (const r of records) this.#dirty.add(partitionOf(r.activationId))
    this.count = Math.max(0, this.count - records.length)
  }

  async #build(): Promise<void> {
    let n = 0
    for await (const r of this.#store.activations.scan()) {
      this.#table.toggle(partitionOf(r.activationId), r.activationId, activationVersionOf(r))
      n++
    }
    this.count += n
  }
}
