import { z } from 'zod'

/** Queue options (config section `queue`): the bound and the order of the durable async queue. */
export const queueOptionsSchema = z
  .object({
    /** Jobs this node holds queued (waiting or running); past it an async invocation gets 429 + Retry-After. */
    maxJobs: z.number().int().min(1).max(1_000_000).default(10_000),
    /**
     * Jobs the whole cluster holds queued (waiting or running), as each node gossips its own
     * depth; past it an invocation that would queue gets 429 + Retry-After, before anything is
     * stored. The sum is as fresh as the last heartbeats, so a burst on several nodes at once may
     * overshoot it by what they accept within one heartbeat.
     */
    clusterMaxJobs: z.number().int().min(1).max(100_000_000).default(100_000),
    /**
     * The aging rule: a job's priority rises by one level for each `agingMs` it has waited (up to 2),
     * so a priority-0 job competes as priority 2 after 2 × agingMs and no job starves for ever.
     */
    agingMs: z.number().int().min(100).default(60_000),
    /** After every node refused a job (full), the queue tries again after this long, or sooner when a run ends, ms. */
    retryFullMs: z.number().int().min(10).max(60_000).default(250),
    /** Jobs of this node's queue out for a run at once (placed, or being placed). */
    maxDispatching: z.number().int().min(1).max(4096).default(256),
    /**
     * An attempt not refused within this long is taken as placed and the next job is tried: one
     * placement attempt at a time keeps the order and spares peers a burst of refusals, ms.
     */
    settleMs: z.number().int().min(1).max(5000).default(25),
    /**
     * A blocking invocation that no node could take at once waits in the queue (in priority
     * order) up to this long from its arrival, then is answered 202 with its activation id (as
     * OpenWhisk answers a blocking call past its wait); the job stays queued and runs later, ms.
     */
    blockingWaitMs: z.number().int().min(100).max(300_000).default(60_000),
    /** The `Retry-After` a caller past the bound is given, seconds. */
    retryAfterS: z.number().int().min(1).max(3600).default(5),
    /** Completion callbacks: POSTs tried before the delivery is recorded as failed. */
    callbackAttempts: z.number().int().min(1).max(100).default(10),
    /** Completion callbacks: the wait before the second POST (doubling, with jitter), ms. */
    callbackBackoffMs: z.number().int().min(10).max(600_000).default(500),
    /** Completion callbacks: the longest wait between POSTs, ms. */
    callbackMaxBackoffMs: z.number().int().min(10).max(3_600_000).default(30_000),
    /** Completion callbacks: bound on one POST, ms. */
    callbackTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  })
  .strict()

export type QueueOptions = z.infer<typeof queueOptionsSchema>
export const QUEUE_DEFAULTS: QueueOptions = queueOptionsSchema.parse({})

/** Priorities an invocation may ask for (Iron.io's): 0 (default), 1, 2 (highest). */
export const PRIORITIES = [0, 1, 2] as const
export type Priority = (typeof PRIORITIES)[number]
export const MAX_PRIORITY: Priority = 2
