import { errors, type FnError, toFnError } from '../errors.ts'
import type { Logger } from '../log.ts'
import {
  deliver,
  type GossipedQueues,
  type Job,
  JobQueue,
  type Outcome,
  QUEUE_DEFAULTS,
  type QueueOptions,
  type QueueStats,
} from '../queue/index.ts'
import { attemptOf, backoffMs, retries, retryPolicyOf } from '../queue/retry.ts'
import type { HybridClock } from '../store/hlc.ts'
import {
  type ActivationRecord,
  type FunctionRecord,
  isDeadLetter,
  type KeyValue,
  newActivationId,
  pendingCallback,
  type Store,
} from '../store/index.ts'
import type { SecretBox } from '../store/secrets.ts'
import { type JobField, jobFieldSchema, jobOf } from './jobs.ts'
import { internalErrorRecord } from './records.ts'

/** A queued job's marker lies this long past the action's timeout (the `end` of a marker without a job). */
const MARKER_GRACE_MS = 60_000

export interface QueuedJobsComponents {
  logger: Logger
  store: Store
  clock: HybridClock
  nodeId: string
  /** Runs one activation to its stored record; throws a refusal (NODE_FULL, DRAINING, RUNTIME_MISSING). */
  run: (
    fn: FunctionRecord,
    code: Buffer | null,
    params: Record<string, unknown>,
    activationId: string,
    opts: { apiKey?: string; annotations?: KeyValue[]; owner?: string; traceparent?: string },
  ) => Promise<ActivationRecord>
  loadCode: (fn: FunctionRecord, signal: AbortSignal) => Promise<Buffer | null>
  fetchRecord: (id: string, signal: AbortSignal) => Promise<ActivationRecord | null>
  onRecord?: (record: ActivationRecord) => void
  /** A job's marker, stored here: to its owners; resolves with the copies confirmed (this node's included). */
  onMarker?: (marker: ActivationRecord) => Promise<{ copies: number }>
  /** The live owner that takes over a job whose node died (the first by rendezvous), if known. */
  firstLiveOwner?: (activationId: string) => string | undefined
  /** Seals the caller's API key into the job's marker, and opens it after a takeover (none: the key stays in memory). */
  secrets?: Pick<SecretBox, 'seal' | 'open'>
  /** The other nodes' queues as gossiped: the cluster-wide bound, yielding to their older or higher jobs. */
  peers?: Pick<GossipedQueues, 'depth' | 'yieldTo' | 'changed'>
  draining: () => boolean
}

/** How often the dead-letter count (a scan of the `actdead` index) is refreshed at most, ms. */
const DEAD_COUNT_MS = 5_000

/**
 * The async invocations of this node as durable jobs (docs/architecture.md#the-durable-async-queue):
 * accepted once their marker holds R copies, placed by the JobQueue, retried by the function's
 * policy, dead-lettered after the last attempt, taken over from a dead node.
 */
export class QueuedJobs {
  readonly #c: QueuedJobsComponents
  readonly #queue: JobQueue
  readonly #o: QueueOptions
  readonly #abort = new AbortController()
  #dead = { count: 0, at: 0, counting: false }
  /** Records whose completion callback is being delivered here now. */
  readonly #delivering = new Set<string>()

  constructor(components: QueuedJobsComponents, init: Partial<QueueOptions> = {}) {
    this.#c = components
    this.#o = { ...QUEUE_DEFAULTS, ...init }
    const { peers } = components
    this.#queue = new JobQueue(
      {
        logger: components.logger,
        dispatch: (job) => this.#dispatch(job),
        ...(peers ? { yieldTo: (p: number) => peers.yieldTo(p), changed: () => peers.changed() } : {}),
      },
      init,
    )
  }

  /**
   * The dead letters this node counts for the cluster: those held here of which it is the first
   * live owner, so that each is counted once across the cluster (every owner holds a copy). Kept
   * from a scan at most every DEAD_COUNT_MS (this returns the last count and refreshes behind).
   */
  deadLetters(): number {
    const d = this.#dead
    if (!d.counting && Date.now() - d.at >= DEAD_COUNT_MS) {
      d.counting = true
      this.#c.store.activations
        .deadIds(1_000_000)
        .then((ids) => {
          const me = this.#c.nodeId
          d.count = ids.filter((id) => (this.#c.firstLiveOwner?.(id) ?? me) === me).length
        })
        .catch((err: unknown) => this.#c.logger.warn({ err }, 'counting the dead letters failed'))
        .finally(() => {
          d.at = Date.now()
          d.counting = false
        })
    }
    return d.count
  }

  has(activationId: string): boolean {
    return this.#queue.has(activationId)
  }

  /** `queued` or `running` for a job held here. */
  state(activationId: string): 'queued' | 'running' | undefined {
    return this.#queue.state(activationId)
  }

  stats(): QueueStats {
    return this.#queue.stats()
  }

  /** Jobs waiting here for a placement: a blocking invocation then queues behind them, in order. */
  get waiting(): number {
    return this.#queue.waiting
  }

  start(): Promise<void> {
    return this.#queue.start()
  }

  stop(): Promise<void> {
    this.#abort.abort()
    return this.#queue.stop()
  }

  /**
   * Accept = durable: past the bound nothing is stored (QUEUE_FULL, 429 + Retry-After); else the
   * job's marker is stored here and on its owners, then queued. The answer says how many copies
   * hold it (this node's included).
   */
  async accept(
    activationId: string,
    job: Omit<JobField, 'takeover' | 'attempts'>,
    local: {
      apiKey?: string | undefined
      onDone?: () => void
      onRecord?: (record: ActivationRecord) => void
    } = {},
  ): Promise<{ activationId: string; copies: number; priority: number }> {
    const retryAfterS = this.#queue.options.retryAfterS
    if (!this.#queue.hasRoom()) {
      throw errors.queueFull(
        `this node's queue holds ${this.#queue.size} jobs, its bound (queue.maxJobs); try again in ${retryAfterS} s`,
        { details: { retryAfterS } },
      )
    }
    const cluster = this.#queue.size + (this.#c.peers?.depth() ?? 0)
    if (cluster + 1 > this.#o.clusterMaxJobs) {
      throw errors.queueFull(
        `the cluster's queues hold ${cluster} jobs, its bound (queue.clusterMaxJobs); try again in ${retryAfterS} s`,
        { details: { retryAfterS, clusterJobs: cluster } },
      )
    }
    const { apiKey, onDone, onRecord } = local
    const sealed = apiKey && this.#c.secrets ? this.#c.secrets.seal(keyPath(activationId), apiKey) : undefined
    const full: JobField = { ...job, attempts: [], ...(sealed ? { sealedKey: sealed } : {}) }
    const held = await this.#storeMarker(activationId, full, Date.now())
    this.#queue.add({
      activationId,
      ...full,
      ...(apiKey ? { apiKey } : {}),
      ...(onDone ? { onDone } : {}),
      ...(onRecord ? { onRecord } : {}),
    })
    return { activationId, copies: held.copies, priority: job.priority }
  }

  /**
   * Takes a job up again: its node died or left (this node being its first live owner), or it is
   * this node's own from before a restart. The new marker names this node and the takeover; the
   * activation id stays the deduplication key (a record already finished is never run again).
   */
  async requeue(marker: ActivationRecord, cause: string): Promise<boolean> {
    const job = jobOf(marker)
    const id = marker.activationId
    if (!job || this.#c.draining() || this.#queue.has(id)) return false
    if (marker.node !== this.#c.nodeId && this.#c.firstLiveOwner?.(id) !== this.#c.nodeId) return false
    const takeover = { from: marker.node, cause, at: Date.now() }
    const next = this.#marker(id, { ...job, takeover }, marker.start)
    const [written] = await this.#c.store.activations.putManyIfNewer([next])
    if (!written) return false
    this.#c.logger.warn({ activationId: id, from: marker.node, cause }, 'job taken over')
    await this.#c.onMarker?.(next).catch(() => {})
    const apiKey = this.#openKey(id, job.sealedKey)
    return this.#queue.add({ activationId: id, ...job, takeover, ...(apiKey ? { apiKey } : {}) })
  }

  /** The caller's API key from a job's marker (undefined, logged, when it does not open here). */
  #openKey(activationId: string, sealed: string | undefined): string | undefined {
    if (!sealed || !this.#c.secrets) return undefined
    try {
      const key = this.#c.secrets.open(keyPath(activationId), sealed)
      return typeof key === 'string' ? key : undefined
    } catch (err) {
      this.#c.logger.warn(
        { err, activationId },
        "the job's API key does not open with this node's secrets key",
      )
      return undefined
    }
  }

  /**
   * Where a job stands (`activation get` while there is no record to show): `queued` or `running`
   * when this node drives it, `pending` when another node does (queued or running there), `done`
   * or `dead` once its record exists; with its priority, wait and attempts.
   */
  view(record: ActivationRecord): JobView {
    const id = record.activationId
    if (!record.phase) {
      const attempts = record.annotations.find((a) => a.key === 'attempts')?.value
      return {
        activationId: id,
        state: isDeadLetter(record) ? 'dead' : 'done',
        node: record.node,
        status: record.response.status,
        attempts: Array.isArray(attempts) ? attempts : [],
      }
    }
    const job = jobOf(record)
    const state = this.#queue.state(id) ?? (record.node === this.#c.nodeId ? 'queued' : 'pending')
    return {
      activationId: id,
      state,
      node: record.node,
      ...(job
        ? {
            priority: job.priority,
            acceptedAt: job.accepted,
            waitedMs: Date.now() - job.accepted,
            attempt: job.attempt,
            attempts: job.attempts,
            ...(job.notBefore ? { nextAttemptAt: job.notBefore } : {}),
            ...(job.takeover ? { takeover: job.takeover } : {}),
          }
        : { attempts: [] }),
    }
  }

  /** The dead letters held here, newest first (`activation list --dead`). */
  async dead(limit: number): Promise<ActivationRecord[]> {
    const ids = await this.#c.store.activations.deadIds(Math.max(limit, 1) * 4)
    const recs = await Promise.all(ids.map((id) => this.#c.store.activations.get(id)))
    return recs
      .filter((r): r is ActivationRecord => r !== null && isDeadLetter(r))
      .sort((a, b) => b.start - a.start)
      .slice(0, limit)
  }

  /**
   * Runs a dead letter's job again as a new job of `fn` (a new id, attempts from zero, the same
   * parameters and priority); the dead letter is marked `replayed` (naming the new id) and leaves
   * the list.
   */
  async replay(
    record: ActivationRecord,
    fn: FunctionRecord,
  ): Promise<{ activationId: string; copies: number; priority: number }> {
    const job = isDeadLetter(record) ? jobFieldSchema.safeParse((record as { job?: unknown }).job) : null
    if (!job?.success) {
      throw errors.invalidArgument(`activation ${record.activationId} is not in the dead-letter list`)
    }
    const { params, priority, callback } = job.data
    const accepted = await this.accept(newActivationId(), {
      fn,
      params,
      priority,
      accepted: Date.now(),
      attempt: 0,
      ...(callback ? { callback } : {}),
    })
    await this.#keep({
      ...record,
      annotations: [
        ...record.annotations,
        { key: 'replayed', value: { as: accepted.activationId, at: Date.now() } },
      ],
      hlc: this.#c.clock.now(),
      origin: this.#c.nodeId,
    })
    return accepted
  }

  /** Stores a job's marker here and pushes it to the owners; resolves with the copies confirmed. */
  async #storeMarker(activationId: string, job: JobField, start: number): Promise<{ copies: number }> {
    const marker = this.#marker(activationId, job, start)
    await this.#c.store.activations.put(marker)
    // Not confirmed by an owner (none reachable): the marker is here, in the handoff queue.
    return (this.#c.onMarker?.(marker) ?? Promise.resolve({ copies: 1 })).catch((err: unknown) => {
      this.#c.logger.warn({ err, activationId }, 'the job reached no other owner yet')
      return { copies: 1 }
    })
  }

  /**
   * One run of a queued job: `full` when every node refused it (it waits again), `retry` when it
   * failed and its function's policy runs it again (after the backoff), else its record is stored.
   * With retries, each attempt is an activation of its own; the job's id gets the final record,
   * naming every attempt.
   */
  async #dispatch(job: Job): Promise<Outcome> {
    if (this.#c.draining()) return 'full'
    const id = job.activationId
    if (job.takeover) {
      // The deduplication key: the run the dead node made may have finished after all.
      const found = await this.#c.fetchRecord(id, AbortSignal.timeout(10_000)).catch(() => null)
      if (found && !found.phase) {
        job.onRecord?.(found)
        return 'done'
      }
    }
    const policy = retryPolicyOf(job.fn)
    const attempt = job.attempt + 1
    const runId = policy.maxRetries > 0 ? newActivationId() : id
    const annotations: KeyValue[] = [
      {
        key: 'queue',
        value: {
          priority: job.priority,
          waitedMs: Date.now() - job.accepted,
          attempt,
          acceptedAt: job.accepted,
        },
      },
      ...(job.takeover ? [{ key: 'takeover', value: job.takeover }] : []),
      ...(runId !== id ? [{ key: 'attemptOf', value: id }] : []),
      // The job's own record owes its callback from the moment it is stored (resumed after a crash).
      ...(runId === id ? this.#pending(job) : []),
    ]
    const code = await this.#c.loadCode(job.fn, AbortSignal.timeout(30_000)).catch(() => null)
    let record: ActivationRecord
    try {
      record = await this.#c.run(job.fn, code, job.params, runId, {
        ...(job.apiKey ? { apiKey: job.apiKey } : {}),
        ...(job.owner ? { owner: job.owner } : {}),
        ...(job.traceparent ? { traceparent: job.traceparent } : {}),
        annotations,
      })
    } catch (err) {
      const e = toFnError(err)
      // No room anywhere, or the node asked is stopping: the job waits for room again.
      if (e.code === 'NODE_FULL' || e.code === 'DRAINING') return 'full'
      // A refusal that waiting does not cure (runtime missing): recorded as the job's outcome.
      const failed = this.#failed(job, id, e, annotations)
      await this.#keep(failed)
      return this.#finished(job, failed)
    }
    if (runId === id) return this.#finished(job, record)
    const attempts = [...job.attempts, attemptOf(record, attempt)]
    if (retries(policy, record, attempt)) {
      job.attempt = attempt
      job.attempts = attempts
      job.notBefore = Date.now() + backoffMs(policy, attempt)
      // The marker keeps the count, so a node that takes the job over goes on from here.
      await this.#storeMarker(id, jobFieldOf(job), job.accepted)
      return 'retry'
    }
    const final = this.#finalRecord(job, id, record, attempts)
    await this.#keep(final)
    return this.#finished(job, final)
  }

  /** The job's record is stored: its waiting caller hears of it; its callback (if any) is delivered in the background. */
  #finished(job: Job, record: ActivationRecord): 'done' {
    job.onRecord?.(record)
    if (job.callback) this.#deliver(record, job.callback)
    return 'done'
  }

  /** The annotation a job's record carries until its callback is delivered (store index `actcb`). */
  #pending(job: Pick<Job, 'callback'>): KeyValue[] {
    return job.callback
      ? [{ key: 'callback', value: { url: job.callback, pending: true, node: this.#c.nodeId } }]
      : []
  }

  /**
   * Delivers the callback a finished record still owes, when its node died or left (this node
   * being the id's first live owner), or when it is this node's own from before a restart; false
   * when it is not this node's to deliver, or already under way here.
   */
  resumeCallback(record: ActivationRecord, cause: string): boolean {
    const pending = pendingCallback(record)
    const id = record.activationId
    if (!pending || this.#delivering.has(id) || this.#c.draining()) return false
    if (
      pending.node !== this.#c.nodeId &&
      (this.#c.firstLiveOwner?.(id) ?? this.#c.nodeId) !== this.#c.nodeId
    )
      return false
    this.#c.logger.warn({ activationId: id, from: pending.node, cause }, 'completion callback taken over')
    this.#deliver(record, pending.url, { from: pending.node, cause })
    return true
  }

  #deliver(record: ActivationRecord, url: string, resumed?: { from: string; cause: string }): void {
    const id = record.activationId
    this.#delivering.add(id)
    this.#callback(record, url, resumed)
      .catch((err: unknown) =>
        this.#c.logger.warn({ err, activationId: id }, 'recording the callback failed'),
      )
      .finally(() => this.#delivering.delete(id))
  }

  /**
   * POSTs the record to the callback URL (retried with backoff), then records the delivery on it
   * (annotation `callback`: the outcome, the node that delivered, `resumed` after a takeover).
   */
  async #callback(
    record: ActivationRecord,
    url: string,
    resumed?: { from: string; cause: string },
  ): Promise<void> {
    const o = this.#o
    // The receiver gets the record without the delivery's own bookkeeping.
    const sent = { ...record, annotations: record.annotations.filter((a) => a.key !== 'callback') }
    const delivery = await deliver(
      sent,
      url,
      {
        maxAttempts: o.callbackAttempts,
        backoffMs: o.callbackBackoffMs,
        maxBackoffMs: o.callbackMaxBackoffMs,
        timeoutMs: o.callbackTimeoutMs,
      },
      this.#c.logger,
      this.#abort.signal,
    )
    // Stopped mid-delivery: the record still owes it (resumed at restart, or by an owner).
    if (this.#abort.signal.aborted && !delivery.delivered) return
    const current = (await this.#c.store.activations.get(record.activationId)) ?? record
    await this.#keep({
      ...current,
      annotations: [
        ...current.annotations.filter((a) => a.key !== 'callback'),
        { key: 'callback', value: { ...delivery, node: this.#c.nodeId, ...(resumed ? { resumed } : {}) } },
      ],
      hlc: this.#c.clock.now(),
      origin: this.#c.nodeId,
    })
  }

  /**
   * The job's own record after its last attempt: that attempt's outcome under the job's id, with
   * every attempt named; a failure is dead-lettered (annotation `deadLetter`) and keeps the job
   * for a replay.
   */
  #finalRecord(
    job: Job,
    id: string,
    last: ActivationRecord,
    attempts: JobField['attempts'],
  ): ActivationRecord {
    const dead = !last.response.success
    return {
      ...last,
      activationId: id,
      start: job.accepted,
      duration: last.end - job.accepted,
      annotations: [
        ...last.annotations.filter((a) => a.key !== 'attemptOf'),
        { key: 'attempts', value: attempts },
        ...(dead ? [{ key: 'deadLetter', value: true }] : []),
        ...this.#pending(job),
      ],
      hlc: this.#c.clock.now(),
      origin: this.#c.nodeId,
      // A dead letter keeps its job for a replay, without the caller's key (a replay is the replayer's).
      ...(dead ? { job: { ...withoutKey(jobFieldOf(job)), attempts } } : {}),
    }
  }

  #failed(job: Job, id: string, e: FnError, annotations: KeyValue[]): ActivationRecord {
    const record = internalErrorRecord(this.#c, job.fn, id, job.accepted, e, job.owner)
    record.annotations.push(...annotations.filter((a) => a.key !== 'attemptOf' && a.key !== 'callback'))
    record.annotations.push(...this.#pending(job))
    return record
  }

  async #keep(record: ActivationRecord): Promise<void> {
    await this.#c.store.activations.put(record)
    this.#c.onRecord?.(record)
  }

  /**
   * The `running` marker of a job, carrying it (jobs.ts) so that any owner can run it. It is
   * resolved by its node's death or departure, not by a deadline (a job may wait long).
   */
  #marker(activationId: string, job: JobField, start: number): ActivationRecord {
    const { fn } = job
    return {
      ...internalErrorRecord(this.#c, fn, activationId, start, errors.notFound('still running'), job.owner),
      end: start + fn.limits.timeout + MARKER_GRACE_MS,
      duration: 0,
      response: { status: 'success', statusCode: 0, success: false, result: {} },
      statusCode: 0,
      phase: 'running',
      job,
    }
  }
}

export interface JobView {
  activationId: string
  state: 'queued' | 'running' | 'pending' | 'done' | 'dead'
  node: string
  status?: string
  priority?: number
  acceptedAt?: number
  waitedMs?: number
  attempt?: number
  attempts: unknown[]
  nextAttemptAt?: number
  takeover?: unknown
}

/** The durable part of a job (what its marker carries): never the API key. */
function jobFieldOf(job: Job): JobField {
  return {
    fn: job.fn,
    params: job.params,
    priority: job.priority,
    accepted: job.accepted,
    attempt: job.attempt,
    attempts: job.attempts,
    ...(job.takeover ? { takeover: job.takeover } : {}),
    ...(job.notBefore !== undefined ? { notBefore: job.notBefore } : {}),
    ...(job.callback ? { callback: job.callback } : {}),
    ...(job.owner ? { owner: job.owner } : {}),
    ...(job.traceparent ? { traceparent: job.traceparent } : {}),
    ...(job.sealedKey ? { sealedKey: job.sealedKey } : {}),
  }
}

function withoutKey(job: JobField): JobField {
  const { sealedKey: _, ...rest } = job
  return rest
}

/** The additional data a job's sealed API key is bound to: it opens for this job only. */
function keyPath(activationId: string): string {
  return `job/${activationId}#apiKey`
}
