import { z } from 'zod'

/** The poll of a node's log tail over a cluster channel (agent/cluster/channel.ts). */
export const LOG_TAIL_PROTOCOLS = ['/fnagent/logs/1.0.0'] as const

/** One finished activation's log lines, as a follower sees it. */
export const tailEntrySchema = z.object({
  seq: z.number().int().nonnegative(),
  node: z.string().max(128),
  activationId: z.string().max(64),
  namespace: z.string().max(128),
  name: z.string().max(512),
  status: z.string().max(64),
  start: z.number(),
  end: z.number(),
  logs: z.array(z.string()),
  /** Lines dropped from the head to keep the entry within one answer. */
  truncated: z.number().int().nonnegative().optional(),
})
export type TailEntry = z.infer<typeof tailEntrySchema>

export const tailPollSchema = z
  .object({
    v: z.literal(1),
    /** The last `seq` the follower has; -1: none yet (the answer is the current position, at once). */
    after: z.number().int().min(-1),
    /** Only this function: `name` or `namespace/name`. */
    fn: z.string().max(512).optional(),
    /** How long the node may hold the poll for a new activation, ms. */
    waitMs: z.number().int().min(0).max(60_000),
  })
  .strict()
export type TailPoll = z.infer<typeof tailPollSchema>

export const tailAnswerSchema = z.object({
  entries: z.array(tailEntrySchema),
  /** The `after` of the next poll. */
  next: z.number().int().min(-1),
  /** Entries after `after` the node no longer holds (overwritten before they were asked for). */
  missed: z.number().int().nonnegative(),
})
export type TailAnswer = z.infer<typeof tailAnswerSchema>
