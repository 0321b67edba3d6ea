import { z } from 'zod'
import { errors, type FnError, toFnError } from '../errors.ts'
import type { FunctionService } from '../functions/index.ts'
import { describeZodError } from '../functions/input.ts'
import type { Startable } from '../lifecycle.ts'
import type { Logger } from '../log.ts'
import { type Job, JobQueue, type Outcome, type QueueOptions, type QueueStats } from '../queue/index.ts'
import type { HybridClock } from '../store/hlc.ts'
import {
  ACTIVATION_ID_RE,
  type ActivationQuery,
  type ActivationRecord,
  type FunctionRecord,
  type KeyValue,
  newActivationId,
  owVersion,
  type Store,
  statusCode,
} from '../store/index.ts'
import { type JobField, jobOf, priorityOf } from './jobs.ts'
import { ActivationRecovery, type RecoveryInit } from './recovery.ts'

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
  /** Annotations added to the record (the queue's: priority, wait, attempt, takeover). */
  annotations?: KeyValue[]
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
   * A queued job's marker, stored here: to its owners. Resolves with the copies confirmed (this
   * node's included) once R hold it, or when no more can be had within the request timeout (the
   * marker is then retried by the handoff queue); the activation id is answered after that.
   */
  onMarker?: (marker: ActivationRecord) => Promise<{ copies: number }>
  /** The live owner that takes over a job whose node died (the first by rendezvous), if known. */
  firstLiveOwner?: (activationId: string) => string | undefined
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
  /** The durable async queue (agent/queue/options.ts). */
  queue?: Partial<QueueOptions>
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
    /** Async only: 0 (default), 1, 2 (highest); else the function's `priority` annotation. */
    priority: z.number().int().min(0).max(2).optional(),
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
  readonly #queue: JobQueue

  constructor(components: ActivationServiceComponents, init: ActivationServiceInit) {
    this.#c = components
    this.#init = init
    this.#queue = new JobQueue(
      { logger: components.logger.child({ component: 'queue' }), dispatch: (job) => this.#dispatch(job) },
      init.queue,
    )
    this.#recovery = new ActivationRecovery(
      {
        logger: components.logger,
        store: components.store,
        clock: components.clock,
        nodeId: components.nodeId,
        running: (id) => this.#inflight.has(id) || this.#queue.has(id),
        requeue: (marker, cause) => this.#requeue(marker, cause),
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

  /** This node's queue: depth per priority, running, oldest wait. */
  queueStats(): QueueStats {
    return this.#queue.stats()
  }

  async invoke(name: string, body: unknown): Promise<{ status: number; body: unknown }> {
    if (this.#draining) throw errors.draining('this agent is shutting down and takes no new invocations')
    const parsed = invokeBodySchema.safeParse(body)
    if (!parsed.success) throw errors.invalidArgument(describeZodError(parsed.error, 'invalid invocation'))
    const { params, blocking, result, apiKey, priority } = parsed.data
    const size = Buffer.byteLength(JSON.stringify(params))
    if (size > this.#init.maxParamsBytes) {
      throw errors.tooLarge(
        `parameters are ${size} bytes, over the limit of ${this.#init.maxParamsBytes} bytes`,
      )
    }
    const fn = await this.#c.functions.get(name)
    const code = await this.#c.loadCode(fn, AbortSignal.timeout(30_000))
    if (fn.codeHash && !code) {
      throw errors.unavailable(
        `the code of ${fn.name} version ${fn.version} is on no reachable node; try again when its owners are back`,
      )
    }
    const activationId = newActivationId()
    if (!blocking) {
      const job = {
        fn,
        params: { ...fn.parameters, ...params },
        priority: priorityOf(fn, priority),
        accepted: Date.now(),
        attempt: 0,
      }
      return { status: 202, body: await this.#accept(activationId, job, apiKey) }
    }
    const run = this.#run(fn, code, { ...fn.parameters, ...params }, activationId, true, { apiKey })
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
      /** `__OW_API_KEY` for an action with `provide-api-key`. */
      apiKey?: string
      /** Added to the record (the queue's). */
      annotations?: KeyValue[]
    } = {},
  ) {
    const received = Date.now()
    const deadline = received + fn.limits.timeout + 60_000
    const { apiKey, annotations } = opts
    const p = Promise.resolve()
      .then(() =>
        this.#c.runner({
          fn,
          code,
          params,
          activationId,
          deadline,
          signal: this.#abort.signal,
          ...(apiKey ? { apiKey } : {}),
          ...(annotations ? { annotations } : {}),
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

  /**
   * Accept = durable: past the bound nothing is stored (QUEUE_FULL, 429 + Retry-After); else the
   * job's marker is stored here and on its owners, then queued. The answer says how many copies
   * hold it (this node's included).
   */
  async #accept(
    activationId: string,
    job: Omit<JobField, 'takeover'>,
    apiKey: string | undefined,
  ): Promise<{ activationId: string; copies: number; priority: number }> {
    if (!this.#queue.hasRoom()) {
      const retryAfterS = this.#queue.options.retryAfterS
      throw errors.queueFull(
        `this node's queue holds ${this.#queue.size} jobs, its bound (queue.maxJobs); try again in ${retryAfterS} s`,
        { details: { retryAfterS } },
      )
    }
    const marker = this.#marker(job.fn, activationId, job)
    await this.#c.store.activations.put(marker)
    // Not confirmed by an owner (none reachable): the marker is here, in the handoff queue.
    const held = await (this.#c.onMarker?.(marker) ?? Promise.resolve({ copies: 1 })).catch(
      (err: unknown) => {
        this.#c.logger.warn({ err, activationId }, 'the job reached no other owner yet')
        return { copies: 1 }
      },
    )
    this.#queue.add({ activationId, ...job, ...(apiKey ? { apiKey } : {}) })
    return { activationId, copies: held.copies, priority: job.priority }
  }

  /**
   * Takes a job up again: its node died or left (this node being its first live owner), or it is
   * this node's own from before a restart. The new marker names this node and the takeover; the
   * activation id stays the deduplication key (a record already finished is never run again).
   */
  async #requeue(marker: ActivationRecord, cause: string): Promise<boolean> {
    const job = jobOf(marker)
    const id = marker.activationId
    if (!job || this.#draining || this.#queue.has(id)) return false
    if (marker.node !== this.#c.nodeId) {
      const first = this.#c.firstLiveOwner?.(id)
      if (first !== this.#c.nodeId) return false
    }
    const takeover = { from: marker.node, cause, at: Date.now() }
    const next = this.#marker(job.fn, id, { ...job, takeover }, marker.start)
    const [written] = await this.#c.store.activations.putManyIfNewer([next])
    if (!written) return false
    this.#c.logger.warn({ activationId: id, from: marker.node, cause }, 'job taken over')
    await this.#c.onMarker?.(next).catch(() => {})
    return this.#queue.add({ activationId: id, ...job, takeover })
  }

  /** One run of a queued job: `full` when every node refused it (it waits again), else its record is stored. */
  async #dispatch(job: Job): Promise<Outcome> {
    if (this.#draining) return 'full'
    const id = job.activationId
    if (job.takeover) {
      // The deduplication key: the run the dead node made may have finished after all.
      const found = await this.#c.fetchRecord(id, AbortSignal.timeout(10_000)).catch(() => null)
      if (found && !found.phase) return 'done'
    }
    const attempt = job.attempt + 1
    const waitedMs = Date.now() - job.accepted
    const annotations = [
      { key: 'queue', value: { priority: job.priority, waitedMs, attempt, acceptedAt: job.accepted } },
      ...(job.takeover ? [{ key: 'takeover', value: job.takeover }] : []),
    ]
    const code = await this.#c.loadCode(job.fn, AbortSignal.timeout(30_000)).catch(() => null)
    const run = this.#run(job.fn, code, job.params, id, true, {
      ...(job.apiKey ? { apiKey: job.apiKey } : {}),
      annotations,
    })
    try {
      await run
      return 'done'
    } catch (err) {
      const e = toFnError(err)
      // No room anywhere, or the node asked is stopping: the job waits for room again.
      if (e.code === 'NODE_FULL' || e.code === 'DRAINING') return 'full'
      // A refusal that waiting does not cure (runtime missing): recorded as the activation's outcome.
      const record = { ...this.#internalErrorRecord(job.fn, id, job.accepted, e) }
      record.annotations.push(...annotations)
      await this.#c.store.activations.put(record)
      this.#c.onRecord?.(record)
      return 'done'
    }
  }

  /**
   * The `running` marker of an async activation, carrying its job (jobs.ts) so that any owner can
   * run it. A job's marker is resolved by its node's death or departure, not by a deadline: it may
   * wait in the queue for long; `end` is the deadline of a marker without a job.
   */
  #marker(fn: FunctionRecord, activationId: string, job: JobField, start = Date.now()): ActivationRecord {
    return {
      ...this.#internalErrorRecord(fn, activationId, start, errors.notFound('still running')),
      end: start + fn.limits.timeout + MARKER_GRACE_MS,
      duration: 0,
      response: { status: 'success', statusCode: 0, success: false, result: {} },
      statusCode: 0,
      phase: 'running',
      job,
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

  async get(id: string): Promise<ActivationRecord> {
    if (!ACTIVATION_ID_RE.test(id)) {
      throw errors.invalidArgument(`'${id}' is not an activation id (32 hexadecimal characters)`)
    }
    const local = await this.#c.store.activations.get(id)
    let rec = local && !local.phase ? local : await this.#c.fetchRecord(id, AbortSignal.timeout(10_000))
    if (rec?.phase === 'running') rec = await this.#recovery.resolve(rec)
    if (!rec) {
      if (this.#inflight.has(id) || local?.phase === 'running')
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
    await this.#queue.start()
    this.#recovery.start()
  }

  /** Stops taking work and waits up to `drainMs` for in-flight activations, then cancels the rest. */
  async stop(): Promise<void> {
    if (this.#draining) return
    this.#draining = true
    await this.#queue.stop()
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
