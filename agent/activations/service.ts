import { z } from 'zod'
import { errors, type FnError, toFnError } from '../errors.ts'
import type { FunctionService } from '../functions/index.ts'
import { describeZodError } from '../functions/input.ts'
import type { Startable } from '../lifecycle.ts'
import type { Logger } from '../log.ts'
import type { HybridClock } from '../store/hlc.ts'
import {
  ACTIVATION_ID_RE,
  type ActivationQuery,
  type ActivationRecord,
  type FunctionRecord,
  newActivationId,
  owVersion,
  type Store,
  statusCode,
} from '../store/index.ts'
import type { NamespaceLimiter } from './limits.ts'
import { ActivationRecovery, type RecoveryInit } from './recovery.ts'
import { TRACEPARENT_RE } from './trace.ts'

/** Runs one activation somewhere (locally, or on a peer chosen by placement) and returns its record. */
export type Runner = (req: RunRequest) => Promise<ActivationRecord>

export interface RunRequest {
  fn: FunctionRecord
  code: Buffer | null
  params: Record<string, unknown>
  activationId: string
  deadline: number
  signal: AbortSignal
  /** The caller's API key, given to the action as `__OW_API_KEY` (`provide-api-key`). */
  apiKey?: string
  /** The caller's W3C trace context: the record keeps it as its `traceparent` annotation. */
  traceparent?: string
}

export interface ActivationServiceComponents {
  logger: Logger
  store: Store
  clock: HybridClock
  functions: FunctionService
  nodeId: string
  runner: Runner
  /** Called after a record is stored locally (replication pushes it to its owners). */
  onRecord?: (record: ActivationRecord) => void
  /** The code of a function version: from this node, else fetched from a peer (hash-checked). */
  loadCode: (fn: FunctionRecord, signal: AbortSignal) => Promise<Buffer | null>
  /** A record this node does not hold, from its owners or any peer (null when nobody has it). */
  fetchRecord: (id: string, signal: AbortSignal) => Promise<ActivationRecord | null>
  /** Activation records merged from every live node. */
  listCluster: (q: ActivationQuery) => Promise<ActivationRecord[]>
  /**
   * An async invocation's `running` marker, stored here: to its owners. Resolves once at least one
   * owner other than this node holds it, or when that cannot be had (the marker is then retried by
   * the handoff queue); the activation id is answered after that.
   */
  onMarker?: (marker: ActivationRecord) => Promise<unknown>
  /** Per-namespace limits (429 past them); none when absent. */
  limiter?: Pick<NamespaceLimiter, 'admit'>
  /** A peer's state in this node's view (`undefined`: not known): a dead node's markers resolve as lost. */
  memberState?: (peerId: string) => string | undefined
}

export interface ActivationServiceInit {
  /** Largest parameters object, bytes (OpenWhisk: 1 MB). */
  maxParamsBytes: number
  /** Longest a stop waits for in-flight activations before cancelling them, ms. */
  drainMs: number
  /** How running markers are checked (see ActivationRecovery). */
  recovery?: Partial<RecoveryInit>
}

/** A marker's deadline (its `end`) lies this long past the action's timeout. */
const MARKER_GRACE_MS = 60_000

const invokeBodySchema = z
  .object({
    params: z.record(z.string(), z.unknown()).default({}),
    blocking: z.boolean().default(true),
    /** Blocking only: answer the result alone instead of the whole record. */
    result: z.boolean().default(false),
    /** The caller's OpenWhisk key for an action annotated `provide-api-key` (never stored). */
    apiKey: z.string().min(1).max(512).optional(),
    /** Run this version instead of the latest (`fnagent invoke name@3`). */
    version: z.number().int().positive().optional(),
    /** The caller's W3C trace context, kept in the record (trace.ts). */
    traceparent: z.string().regex(TRACEPARENT_RE).optional(),
  })
  .strict()

/** Receives invocations, has them run, and keeps their records. */
export class ActivationService implements Startable {
  readonly #c: ActivationServiceComponents
  readonly #init: ActivationServiceInit
  readonly #inflight = new Map<string, Promise<ActivationRecord>>()
  readonly #abort = new AbortController()
  #draining = false

  readonly #recovery: ActivationRecovery

  constructor(components: ActivationServiceComponents, init: ActivationServiceInit) {
    this.#c = components
    this.#init = init
    this.#recovery = new ActivationRecovery(
      {
        logger: components.logger,
        store: components.store,
        clock: components.clock,
        nodeId: components.nodeId,
        running: (id) => this.#inflight.has(id),
        memberState: (peerId) => components.memberState?.(peerId),
        fetchRecord: components.fetchRecord,
        onRecord: (record) => components.onRecord?.(record),
      },
      init.recovery,
    )
  }

  get inflight(): number {
    return this.#inflight.size
  }

  /** Invokes `name` of `namespace` (this node's namespace when omitted). */
  async invoke(name: string, body: unknown, namespace?: string): Promise<{ status: number; body: unknown }> {
    if (this.#draining) throw errors.draining('this agent is shutting down and takes no new invocations')
    const parsed = invokeBodySchema.safeParse(body)
    if (!parsed.success) throw errors.invalidArgument(describeZodError(parsed.error, 'invalid invocation'))
    const { params, blocking, result, apiKey, version, traceparent } = parsed.data
    const size = Buffer.byteLength(JSON.stringify(params))
    if (size > this.#init.maxParamsBytes) {
      throw errors.tooLarge(
        `parameters are ${size} bytes, over the limit of ${this.#init.maxParamsBytes} bytes`,
      )
    }
    const resolved = await this.#c.functions.resolve(name, namespace)
    const { defaults } = resolved
    const fn = version === undefined ? resolved.fn : await this.#c.functions.version(resolved.fn, version)
    const code = await this.#c.loadCode(fn, AbortSignal.timeout(30_000))
    if (fn.codeHash && !code) {
      throw errors.unavailable(
        `the code of ${fn.name} version ${fn.version} is on no reachable node; try again when its owners are back`,
      )
    }
    // Counted against the caller's namespace (a binding may run another namespace's function).
    const release = (await this.#c.limiter?.admit(namespace ?? this.#c.functions.namespace)) ?? (() => {})
    const activationId = newActivationId()
    if (!blocking) {
      // The caller gets the id before the run ends: a marker on the owners first, so that the id
      // resolves to a record even if this node dies mid-run (ActivationRecovery).
      let started!: () => void
      const gate = new Promise<void>((r) => {
        started = r
      })
      const run = this.#run(fn, code, { ...defaults, ...fn.parameters, ...params }, activationId, false, {
        gate,
        apiKey,
        traceparent,
      })
      run.then(release, release) // failures are recorded inside #run
      try {
        const marker = this.#marker(fn, activationId)
        await this.#c.store.activations.put(marker)
        // Not confirmed by an owner (none reachable): the marker is here, in the handoff queue.
        await this.#c.onMarker?.(marker).catch((err: unknown) => {
          this.#c.logger.warn({ err, activationId }, 'the running marker reached no other owner yet')
        })
      } finally {
        started()
      }
      return { status: 202, body: { activationId } }
    }
    const run = this.#run(fn, code, { ...defaults, ...fn.parameters, ...params }, activationId, true, {
      apiKey,
      traceparent,
    })
    run.then(release, release)
    const record = await run
    return { status: 200, body: result ? (record.response.result ?? {}) : record }
  }

  #run(
    fn: FunctionRecord,
    code: Buffer | null,
    params: Record<string, unknown>,
    activationId: string,
    blocking: boolean,
    opts: {
      /** The run waits for this (the marker stored first); the activation counts as in flight meanwhile. */
      gate?: Promise<void>
      /** `__OW_API_KEY` for an action with `provide-api-key`. */
      apiKey?: string | undefined
      traceparent?: string | undefined
    } = {},
  ) {
    const received = Date.now()
    const deadline = received + fn.limits.timeout + 60_000
    const { gate, apiKey, traceparent } = opts
    const p = (gate ?? Promise.resolve())
      .then(() =>
        this.#c.runner({
          fn,
          code,
          params,
          activationId,
          deadline,
          signal: this.#abort.signal,
          ...(apiKey ? { apiKey } : {}),
          ...(traceparent ? { traceparent } : {}),
        }),
      )
      .catch((err: unknown) => {
        const e = toFnError(err)
        // A refusal before anything ran (node full, runtime missing) is the caller's error when blocking…
        if (e.code === 'NODE_FULL' || e.code === 'RUNTIME_MISSING' || e.code === 'DRAINING') throw e
        // …anything else becomes a recorded whisk internal error, never a lost activation.
        this.#c.logger.error({ err, fn: fn.name, activationId }, 'activation failed inside the agent')
        return this.#internalErrorRecord(fn, activationId, received, e)
      })
      .then(async (record) => {
        await this.#c.store.activations.put(record)
        this.#c.onRecord?.(record)
        return record
      })
      .catch(async (err: unknown) => {
        const e = toFnError(err)
        // A blocking caller hears of a refusal directly; an async one only has the record to look at.
        if (blocking) throw e
        const record = this.#internalErrorRecord(fn, activationId, received, e)
        await this.#c.store.activations
          .put(record)
          .then(() => this.#c.onRecord?.(record))
          .catch((putErr: unknown) => {
            this.#c.logger.error({ err: putErr, activationId }, 'cannot store the activation record')
          })
        throw e
      })
      .finally(() => this.#inflight.delete(activationId))
    this.#inflight.set(activationId, p)
    return p
  }

  /** The `running` marker of an async activation; its `end` is the deadline past which it resolves as lost. */
  #marker(fn: FunctionRecord, activationId: string): ActivationRecord {
    const start = Date.now()
    return {
      ...this.#internalErrorRecord(fn, activationId, start, errors.notFound('still running')),
      end: start + fn.limits.timeout + MARKER_GRACE_MS,
      duration: 0,
      response: { status: 'success', statusCode: 0, success: false, result: {} },
      statusCode: 0,
      phase: 'running',
    }
  }

  #internalErrorRecord(
    fn: FunctionRecord,
    activationId: string,
    start: number,
    err: FnError,
  ): ActivationRecord {
    const end = Date.now()
    return {
      activationId,
      namespace: fn.namespace,
      name: fn.name,
      version: owVersion(fn.version),
      subject: fn.namespace,
      start,
      end,
      duration: end - start,
      statusCode: statusCode('whisk internal error'),
      response: {
        status: 'whisk internal error',
        statusCode: statusCode('whisk internal error'),
        success: false,
        result: { error: err.message },
      },
      logs: [],
      annotations: [
        { key: 'path', value: `${fn.namespace}/${fn.name}` },
        { key: 'kind', value: fn.kind },
        { key: 'limits', value: fn.limits },
      ],
      publish: false,
      node: this.#c.nodeId,
      cold: false,
      hlc: this.#c.clock.now(),
      origin: this.#c.nodeId,
    }
  }

  /** A record by id; with `namespace`, one of another namespace is not found (as OpenWhisk: 404). */
  async get(id: string, namespace?: string): Promise<ActivationRecord> {
    if (!ACTIVATION_ID_RE.test(id)) {
      throw errors.invalidArgument(`'${id}' is not an activation id (32 hexadecimal characters)`)
    }
    const local = await this.#c.store.activations.get(id)
    let rec = local && !local.phase ? local : await this.#c.fetchRecord(id, AbortSignal.timeout(10_000))
    if (rec?.phase === 'running') rec = await this.#recovery.resolve(rec)
    const mine = (r: ActivationRecord) => namespace === undefined || r.namespace === namespace
    if (rec && !mine(rec)) rec = null
    if (!rec) {
      if ((namespace === undefined && this.#inflight.has(id)) || (local?.phase === 'running' && mine(local)))
        throw errors.notFound(`activation ${id} is still running; try again when it ends`)
      throw errors.notFound(`activation ${id} does not exist on this node or its peers`)
    }
    return rec
  }

  list(q: ActivationQuery & { cluster?: boolean }): Promise<ActivationRecord[]> {
    const { cluster, ...query } = q
    return cluster ? this.#c.listCluster(query) : this.#c.store.activations.list(query)
  }

  /**
   * Starts resolving the running markers of activations lost to a crash (this node's first);
   * invocations are taken from construction until `stop`.
   */
  async start(): Promise<void> {
    this.#recovery.start()
  }

  /** Stops taking work and waits up to `drainMs` for in-flight activations, then cancels the rest. */
  async stop(): Promise<void> {
    if (this.#draining) return
    this.#draining = true
    await this.#recovery.stop()
    const ms = this.#init.drainMs
    const all = Promise.allSettled([...this.#inflight.values()])
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), ms)
      }),
    ])
    clearTimeout(timer)
    if (timedOut) {
      this.#c.logger.warn(
        { inflight: this.#inflight.size },
        'drain timed out; cancelling in-flight activations',
      )
      this.#abort.abort(errors.draining('the agent stopped before the activation ended'))
      await all
    }
  }
}
