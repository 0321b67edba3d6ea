import type { Startable } from '../lifecycle.ts'
import type { Logger } from '../log.ts'
import type { ActivationRecord, FunctionRecord } from '../store/index.ts'
import { QUEUE_DEFAULTS, type QueueOptions } from './options.ts'
import { effectivePriority, JobOrder, type Ordered } from './order.ts'
import type { AttemptRecord } from './retry.ts'

/** One accepted async invocation, waiting or out for a run. Durable as its marker (activations/). */
export interface Job extends Ordered {
  activationId: string
  fn: FunctionRecord
  params: Record<string, unknown>
  /** `__OW_API_KEY` (`provide-api-key`), in clear in memory only; the marker carries it sealed (`sealedKey`). */
  apiKey?: string
  /** The API key sealed under the cluster's secrets key (activations/jobs.ts). */
  sealedKey?: string
  /** Runs started so far (1 on the first run). */
  attempt: number
  /** Set when this node took the job over from another (or from its own previous process). */
  takeover?: { from: string; cause: string; at: number }
  /** The failed attempts so far (a function with `maxRetries`), each an activation of its own. */
  attempts: AttemptRecord[]
  /** Not placed before this epoch ms (the backoff before a retry). */
  notBefore?: number
  /** Where the finished record is POSTed. */
  callback?: string
  /** The activation's namespace when not the function's (a run through a binding). */
  owner?: string
  /** The caller's W3C trace context, for the record. */
  traceparent?: string
  /** Called once the job's run ends on this node (in memory only: not after a takeover). */
  onDone?: () => void
  /** Called with the job's final record once it is stored here (a blocking caller waiting in the queue). */
  onRecord?: (record: ActivationRecord) => void
}

/**
 * What a run attempt came to: the record is stored; no node had room (the job waits again); or
 * the run failed and is retried (the dispatcher set `attempt`, `attempts` and `notBefore`).
 */
export type Outcome = 'done' | 'full' | 'retry'

export interface JobQueueComponents {
  logger: Logger
  /** Runs a job to its stored record, or answers `full` when every node refused it. */
  dispatch: (job: Job) => Promise<Outcome>
  /**
   * Whether to hold back a job of this effective priority because another node holds waiting
   * jobs of a higher one (docs/architecture.md, "priorities across nodes"); none when absent.
   */
  yieldTo?: (effectivePriority: number) => boolean
  /** The set of priorities with waiting jobs changed (gossip it soon). */
  changed?: () => void
}

export interface QueueStats {
  /** Waiting jobs per asked priority (0, 1, 2). */
  waiting: number[]
  /** Jobs out for a run now. */
  running: number
  /** Jobs waiting for their retry's backoff to pass. */
  delayed: number
  /** Epoch ms the oldest waiting job was accepted, or null. */
  oldestAccepted: number | null
  /** The same per asked priority (0, 1, 2). */
  oldestPerPriority: Array<number | null>
  maxJobs: number
  /** Runs that ended (any outcome) and attempts refused for lack of room, since start. */
  completed: number
  refusedFull: number
  /** Placements held back because another node held older or higher-priority jobs. */
  yielded: number
}

/**
 * This node's share of the cluster queue: the async jobs it accepted (or took over), placed in
 * priority order then arrival order (with aging), one placement attempt at a time. When every node
 * refuses, the queue waits for capacity: the next run that ends here, or `retryFullMs`.
 */
export class JobQueue implements Startable {
  readonly #c: JobQueueComponents
  readonly #o: QueueOptions
  readonly #order: JobOrder<Job>
  readonly #jobs = new Map<string, Job>()
  readonly #running = new Set<string>()
  readonly #delayed = new Map<string, NodeJS.Timeout>()
  #seq = 0
  #attempting = false
  #full = false
  #timer: NodeJS.Timeout | null = null
  #stopped = false
  #completed = 0
  #refusedFull = 0
  #yielded = 0
  /** Which priorities had waiting jobs when last told (`changed`). */
  #shape = ''

  constructor(components: JobQueueComponents, init: Partial<QueueOptions> = {}) {
    this.#c = components
    this.#o = { ...QUEUE_DEFAULTS, ...init }
    this.#order = new JobOrder(this.#o.agingMs)
  }

  get options(): QueueOptions {
    return this.#o
  }

  /** Jobs held (waiting or running). */
  get size(): number {
    return this.#jobs.size
  }

  /** Room for `n` more jobs under `maxJobs`. */
  hasRoom(n = 1): boolean {
    return this.#jobs.size + n <= this.#o.maxJobs
  }

  has(activationId: string): boolean {
    return this.#jobs.has(activationId)
  }

  /** Jobs waiting for a placement (not out for a run, not in a retry's backoff). */
  get waiting(): number {
    return this.#order.size
  }

  /** `queued` or `running` for a job held here, else undefined. */
  state(activationId: string): 'queued' | 'running' | undefined {
    if (!this.#jobs.has(activationId)) return undefined
    return this.#running.has(activationId) ? 'running' : 'queued'
  }

  /** Adds a job (already stored durably by the caller); a job already held is not added twice. */
  add(job: Omit<Job, 'seq'>): boolean {
    if (this.#jobs.has(job.activationId) || this.#stopped) return false
    const full: Job = { ...job, seq: this.#seq++ }
    this.#jobs.set(full.activationId, full)
    this.#enter(full)
    return true
  }

  stats(): QueueStats {
    return {
      waiting: this.#order.depths(),
      running: this.#running.size,
      delayed: this.#delayed.size,
      oldestAccepted: this.#order.oldest() ?? null,
      oldestPerPriority: this.#order.oldestPer(),
      maxJobs: this.#o.maxJobs,
      completed: this.#completed,
      refusedFull: this.#refusedFull,
      yielded: this.#yielded,
    }
  }

  async start(): Promise<void> {}

  /** Stops placing jobs; those waiting stay stored (taken up again at restart, or by their owners). */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    for (const t of this.#delayed.values()) clearTimeout(t)
    this.#delayed.clear()
  }

  /** Into the order now, or when its backoff has passed. */
  #enter(job: Job): void {
    const wait = (job.notBefore ?? 0) - Date.now()
    if (wait <= 0) {
      this.#order.push(job)
      this.#pump()
      return
    }
    const t = setTimeout(() => {
      this.#delayed.delete(job.activationId)
      this.#order.push(job)
      this.#pump()
    }, wait)
    t.unref()
    this.#delayed.set(job.activationId, t)
  }

  /** Places jobs while there is one waiting, room in `maxDispatching` and no refusal pending. */
  #pump(): void {
    this.#noteShape()
    if (this.#stopped || this.#attempting || this.#full) return
    if (this.#running.size >= this.#o.maxDispatching) return
    const now = Date.now()
    const head = this.#order.peek(now)
    if (!head) return
    if (this.#c.yieldTo?.(effectivePriority(head, now, this.#o.agingMs))) {
      // Another node's waiting jobs go first: try again when a run ends here or after retryFullMs.
      this.#yielded++
      this.#waitForRoom()
      return
    }
    const job = this.#order.shift(now)!
    this.#noteShape()
    this.#attempting = true
    this.#running.add(job.activationId)
    let settled = false
    const settle = () => {
      if (settled) return
      settled = true
      clearTimeout(presumed)
      this.#attempting = false
      this.#pump()
    }
    // Not refused by now: taken as placed, the next job is tried.
    const presumed = setTimeout(settle, this.#o.settleMs)
    this.#c
      .dispatch(job)
      .catch((err: unknown) => {
        this.#c.logger.error({ err, activationId: job.activationId }, 'a queued job failed to dispatch')
        return 'full' as const
      })
      .then((outcome) => {
        this.#running.delete(job.activationId)
        if (outcome === 'full' && !this.#stopped) {
          this.#refusedFull++
          this.#order.push(job)
          this.#waitForRoom()
        } else if (outcome === 'retry' && !this.#stopped) {
          this.#full = false
          this.#enter(job)
        } else {
          this.#completed++
          this.#jobs.delete(job.activationId)
          job.onDone?.()
          // A run ended: a slot may be free.
          this.#full = false
        }
        settle()
        this.#pump()
      })
  }

  /** Tells `changed` when a priority's waiting list became empty or not empty. */
  #noteShape(): void {
    const shape = this.#order
      .depths()
      .map((n) => (n > 0 ? 1 : 0))
      .join('')
    if (shape === this.#shape) return
    this.#shape = shape
    this.#c.changed?.()
  }

  /** Every node refused: no attempt until a run ends here or `retryFullMs` passes. */
  #waitForRoom(): void {
    this.#full = true
    if (this.#timer) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#full = false
      this.#pump()
    }, this.#o.retryFullMs)
    this.#timer.unref()
  }
}
