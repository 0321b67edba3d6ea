import { z } from 'zod'
import { errors, type FnError, toFnError } from '../errors.ts'
import { apiKeyFor, type FunctionService } from '../functions/index.ts'
import { describeZodError } from '../functions/input.ts'
import type { Startable } from '../lifecycle.ts'
import type { Logger } from '../log.ts'
import { type GossipedQueues, QUEUE_DEFAULTS, type QueueOptions, type QueueStats } from '../queue/index.ts'
import type { HybridClock } from '../store/hlc.ts'
import {
  ACTIVATION_ID_RE,
  type ActivationQuery,
  type ActivationRecord,
  type FunctionRecord,
  type KeyValue,
  newActivationId,
  type Store,
} from '../store/index.ts'
import type { SecretBox } from '../store/secrets.ts'
import { Composer, isComposition } from './composition.ts'
import { callbackOf, priorityOf } from './jobs.ts'
import type { NamespaceLimiter } from './limits.ts'
import { type JobView, QueuedJobs } from './queued.ts'
import { internalErrorRecord } from './records.ts'
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
  /** A component of a sequence or conductor action: the topmost composition's activation id. */
  cause?: string
  /** Annotations added to the record (the queue's: priority, wait, attempt, takeover). */
  annotations?: KeyValue[]
  /**
   * The activation's namespace when it is not the function's: a run through a binding to another
   * namespace's package belongs to the caller (its record, its listing), not to the package owner.
   */
  namespace?: string
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
   * A queued job's marker, stored here: to its owners. Resolves with the copies confirmed (this
   * node's included) once R hold it, or when no more can be had within the request timeout (the
   * marker is then retried by the handoff queue); the activation id is answered after that.
   */
  onMarker?: (marker: ActivationRecord) => Promise<{ copies: number }>
  /** The live owner that takes over a job whose node died (the first by rendezvous), if known. */
  firstLiveOwner?: (activationId: string) => string | undefined
  /** Per-namespace limits (429 past them); none when absent. */
  limiter?: Pick<NamespaceLimiter, 'admit'>
  /** A peer's state in this node's view (`undefined`: not known): a dead node's markers resolve as lost. */
  memberState?: (peerId: string) => string | undefined
  /** Seals a queued job's API key into its marker (activations/jobs.ts `sealedKey`). */
  secrets?: Pick<SecretBox, 'seal' | 'open'>
  /** The other nodes' queues as gossiped (agent/queue/cluster.ts): the cluster bound, yielding. */
  queuePeers?: Pick<GossipedQueues, 'depth' | 'yieldTo' | 'changed'>
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

const invokeBodySchema = z
  .object({
    params: z.record(z.string(), z.unknown()).default({}),
    blocking: z.boolean().default(true),
    /** Blocking only: answer the result alone instead of the whole record. */
    result: z.boolean().default(false),
    /** The caller's OpenWhisk key for an action annotated `provide-api-key` (never stored). */
    apiKey: z.string().min(1).max(512).optional(),
    /** 0 (default), 1, 2 (highest); else the function's `priority` annotation (a blocking call: when it queues). */
    priority: z.number().int().min(0).max(2).optional(),
    /** Async only: an http(s) URL the finished record is POSTed to; else the function's `callback` annotation. */
    callback: z.string().max(2048).optional(),
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
  readonly #composer: Composer
  readonly #jobs: QueuedJobs

  constructor(components: ActivationServiceComponents, init: ActivationServiceInit) {
    this.#c = components
    this.#init = init
    this.#composer = new Composer({
      logger: components.logger,
      read: (name, namespace) => components.functions.resolve(name, namespace).catch(() => null),
      runAction: (fn, params, cause, apiKey) => this.#runComponent(fn, params, cause, apiKey),
      keep: async (record) => {
        await components.store.activations.put(record)
        components.onRecord?.(record)
      },
      nodeId: components.nodeId,
      hlc: () => components.clock.now(),
    })
    this.#jobs = new QueuedJobs(
      {
        ...components,
        ...(components.queuePeers ? { peers: components.queuePeers } : {}),
        logger: components.logger.child({ component: 'queue' }),
        run: (fn, code, params, id, opts) => this.#run(fn, code, params, id, opts),
        draining: () => this.#draining,
      },
      init.queue,
    )
    this.#recovery = new ActivationRecovery(
      {
        logger: components.logger,
        store: components.store,
        clock: components.clock,
        nodeId: components.nodeId,
        running: (id) => this.#inflight.has(id) || this.#jobs.has(id),
        requeue: (marker, cause) => this.#jobs.requeue(marker, cause),
        resumeCallback: (record, cause) => this.#jobs.resumeCallback(record, cause),
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
    return this.#jobs.stats()
  }

  /** The dead letters this node counts for the cluster (those it is the first live owner of). */
  deadLetters(): number {
    return this.#jobs.deadLetters()
  }

  /**
   * Invokes `name` of `namespace` (this node's namespace when omitted). `opts.activationId`: the id
   * to use instead of a new random one (an alarm tick's rule run, derived from the tick, so that
   * a node firing the tick again can find the run).
   */
  async invoke(
    name: string,
    body: unknown,
    namespace?: string,
    opts: { activationId?: string } = {},
  ): Promise<{ status: number; body: unknown }> {
    if (this.#draining) throw errors.draining('this agent is shutting down and takes no new invocations')
    const parsed = invokeBodySchema.safeParse(body)
    if (!parsed.success) throw errors.invalidArgument(describeZodError(parsed.error, 'invalid invocation'))
    const { params, blocking, result, apiKey, priority, callback, version, traceparent } = parsed.data
    const size = Buffer.byteLength(JSON.stringify(params))
    if (size > this.#init.maxParamsBytes) {
      throw errors.tooLarge(
        `parameters are ${size} bytes, over the limit of ${this.#init.maxParamsBytes} bytes`,
      )
    }
    const resolved = await this.#c.functions.resolve(name, namespace)
    const { defaults } = resolved
    const fn = version === undefined ? resolved.fn : await this.#c.functions.version(resolved.fn, version)
    // A composition runs no code of its own here: each of its actions loads its own.
    const code = isComposition(fn) ? null : await this.#code(fn)
    // Counted against the caller's namespace (a binding may run another namespace's function).
    const caller = namespace ?? this.#c.functions.namespace
    const release = (await this.#c.limiter?.admit(caller)) ?? (() => {})
    const owner = caller !== fn.namespace ? caller : undefined
    const activationId = opts.activationId ?? newActivationId()
    const job = {
      fn,
      params: { ...defaults, ...fn.parameters, ...params },
      priority: priorityOf(fn, priority),
      ...(owner ? { owner } : {}),
      accepted: Date.now(),
      attempt: 0,
      ...callbackOf(fn, callback),
      ...(traceparent ? { traceparent } : {}),
    }
    if (!blocking) {
      // A queued job counts against its namespace until its run ends here (not after a takeover).
      const accepted = await this.#jobs
        .accept(activationId, job, { apiKey, onDone: release })
        .catch((err) => {
          release()
          throw err
        })
      return { status: 202, body: accepted }
    }
    // Blocking: run at once, unless jobs already wait here (then it queues behind them, in order).
    if (this.#jobs.waiting === 0) {
      try {
        const record = await this.#run(fn, code, job.params, activationId, { apiKey, owner, traceparent })
        release()
        return { status: 200, body: result ? (record.response.result ?? {}) : record }
      } catch (err) {
        if (toFnError(err).code !== 'NODE_FULL') {
          release()
          throw err
        }
      }
    }
    return this.#waitInQueue(activationId, job, { apiKey, release, result })
  }

  /**
   * A blocking invocation no node can take now: queued as an async job (durable, in priority
   * order), waited for up to `queue.blockingWaitMs` from its arrival; past that it is answered 202
   * with its id, as OpenWhisk answers a blocking call past its wait, and runs later.
   */
  async #waitInQueue(
    activationId: string,
    job: Parameters<QueuedJobs['accept']>[1],
    opts: { apiKey: string | undefined; release: () => void; result: boolean },
  ): Promise<{ status: number; body: unknown }> {
    let done!: (record: ActivationRecord) => void
    const finished = new Promise<ActivationRecord>((r) => {
      done = r
    })
    const accepted = await this.#jobs
      .accept(activationId, job, { apiKey: opts.apiKey, onDone: opts.release, onRecord: done })
      .catch((err) => {
        opts.release()
        throw err
      })
    const waitMs = job.accepted + { ...QUEUE_DEFAULTS, ...this.#init.queue }.blockingWaitMs - Date.now()
    let timer: NodeJS.Timeout | undefined
    const record = await Promise.race([
      finished,
      new Promise<null>((r) => {
        timer = setTimeout(() => r(null), Math.max(0, waitMs))
      }),
    ])
    clearTimeout(timer)
    if (!record) return { status: 202, body: { ...accepted, queued: true } }
    return { status: 200, body: opts.result ? (record.response.result ?? {}) : record }
  }

  async #code(fn: FunctionRecord): Promise<Buffer | null> {
    const code = await this.#c.loadCode(fn, AbortSignal.timeout(30_000))
    if (fn.codeHash && !code) {
      throw errors.unavailable(
        `the code of ${fn.name} version ${fn.version} is on no reachable node; try again when its owners are back`,
      )
    }
    return code
  }

  /** One action of a composition, run to its end and recorded like any blocking activation. */
  async #runComponent(
    fn: FunctionRecord,
    params: Record<string, unknown>,
    cause: string,
    callerKey: string | undefined,
  ): Promise<ActivationRecord> {
    if (this.#draining) throw errors.draining('this agent is shutting down and takes no new invocations')
    const apiKey = apiKeyFor(fn, callerKey)
    return this.#run(fn, await this.#code(fn), params, newActivationId(), { cause, apiKey })
  }

  /**
   * Runs one activation (here or on a peer) to its stored record. A refusal before anything ran
   * (node full, runtime missing, draining) is thrown: the blocking caller hears of it, the queue
   * waits for room.
   */
  #run(
    fn: FunctionRecord,
    code: Buffer | null,
    params: Record<string, unknown>,
    activationId: string,
    opts: {
      /** `__OW_API_KEY` for an action with `provide-api-key` (for a composition: the caller's key). */
      apiKey?: string | undefined
      /** The composition this run is a component of: run `fn` itself, even a conductor action. */
      cause?: string
      /** Added to the record (the queue's). */
      annotations?: KeyValue[]
      /** The activation's namespace, when not the function's (RunRequest.namespace). */
      owner?: string | undefined
      /** The caller's W3C trace context (RunRequest.traceparent). */
      traceparent?: string | undefined
    } = {},
  ) {
    const received = Date.now()
    const deadline = received + fn.limits.timeout + 60_000
    const { apiKey, cause, annotations, owner, traceparent } = opts
    const p = Promise.resolve()
      .then(() =>
        isComposition(fn) && !cause
          ? this.#composer.run(fn, params, activationId, received, apiKey)
          : this.#c.runner({
              fn,
              code,
              params,
              activationId,
              deadline,
              signal: this.#abort.signal,
              ...(apiKey ? { apiKey } : {}),
              ...(cause ? { cause } : {}),
              ...(annotations ? { annotations } : {}),
              ...(owner ? { namespace: owner } : {}),
              ...(traceparent ? { traceparent } : {}),
            }),
      )
      .catch((err: unknown) => {
        const e = toFnError(err)
        // A refusal before anything ran (node full, runtime missing) is the caller's error…
        if (e.code === 'NODE_FULL' || e.code === 'RUNTIME_MISSING' || e.code === 'DRAINING') throw e
        // …anything else becomes a recorded whisk internal error, never a lost activation.
        this.#c.logger.error({ err, fn: fn.name, activationId }, 'activation failed inside the agent')
        return this.#internalErrorRecord(fn, activationId, received, e, owner)
      })
      .then(async (record) => {
        await this.#c.store.activations.put(record)
        this.#c.onRecord?.(record)
        return record
      })
      .finally(() => this.#inflight.delete(activationId))
    this.#inflight.set(activationId, p)
    return p
  }

  #internalErrorRecord(
    fn: FunctionRecord,
    activationId: string,
    start: number,
    err: FnError,
    owner?: string,
  ): ActivationRecord {
    return internalErrorRecord(this.#c, fn, activationId, start, err, owner)
  }

  /** A record by id; with `namespace`, one of another namespace is not found (as OpenWhisk: 404). */
  async get(id: string, namespace?: string): Promise<ActivationRecord> {
    if (!ACTIVATION_ID_RE.test(id)) {
      throw errors.invalidArgument(`'${id}' is not an activation id (32 hexadecimal characters)`)
    }
    const local = await this.#c.store.activations.get(id)
    let rec = local && !local.phase ? local : await this.#c.fetchRecord(id, AbortSignal.timeout(10_000))
    // A job's marker, here or on its owners: still queued or running.
    const marker = rec?.phase === 'running' ? rec : local?.phase === 'running' ? local : null
    if (rec?.phase === 'running') rec = await this.#recovery.resolve(rec)
    const mine = (r: ActivationRecord) => namespace === undefined || r.namespace === namespace
    if (rec && !mine(rec)) rec = null
    if (!rec) {
      if ((namespace === undefined && this.#inflight.has(id)) || (marker && mine(marker)))
        throw errors.notFound(`activation ${id} is still running; try again when it ends`)
      throw errors.notFound(`activation ${id} does not exist on this node or its peers`)
    }
    return rec
  }

  /** Where an async activation stands: queued, running (attempts so far), done or dead-lettered. */
  async job(id: string): Promise<JobView> {
    if (!ACTIVATION_ID_RE.test(id)) {
      throw errors.invalidArgument(`'${id}' is not an activation id (32 hexadecimal characters)`)
    }
    const local = await this.#c.store.activations.get(id)
    const found = local && !local.phase ? local : await this.#c.fetchRecord(id, AbortSignal.timeout(10_000))
    const rec = found ?? local
    if (!rec) throw errors.notFound(`activation ${id} does not exist on this node or its peers`)
    return this.#jobs.view(rec)
  }

  /** The dead letters held here, newest first. */
  dead(limit = 30): Promise<ActivationRecord[]> {
    return this.#jobs.dead(limit)
  }

  /** Replays a dead letter as a new job of the function's current version (answered as an async invocation is). */
  async replay(id: string): Promise<{ status: number; body: unknown }> {
    if (this.#draining) throw errors.draining('this agent is shutting down and takes no new invocations')
    const record = await this.get(id)
    // The function's current version: a dead letter is typically replayed after a fix.
    const fn = await this.#c.functions.get(record.name)
    return { status: 202, body: await this.#jobs.replay(record, fn) }
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
    await this.#jobs.start()
    this.#recovery.start()
  }

  /** Stops taking work and waits up to `drainMs` for in-flight activations, then cancels the rest. */
  async stop(): Promise<void> {
    if (this.#draining) return
    this.#draining = true
    await this.#jobs.stop()
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
