import { z } from 'zod'

/** The cluster-wide log tail (`fnagent logs -f`, docs/observability.md). */
export const logTailOptionsSchema = z
  .object({
    /** Finished activations (with log lines) each node keeps for followers. */
    bufferEntries: z.number().int().min(10).max(100_000).default(1000),
    /** Largest answer to one poll, bytes (an activation over it keeps the tail of its lines). */
    maxAnswerBytes: z
      .number()
      .int()
      .min(4096)
      .max(16 * 1024 * 1024)
      .default(256 * 1024),
    /** What one follower takes from one node at most, bytes per second; the rest is skipped and counted. */
    bytesPerSecond: z
      .number()
      .int()
      .min(4096)
      .default(512 * 1024),
    /** Longest a poll waits on the serving node for a new activation, ms. */
    pollWaitMs: z.number().int().min(100).max(60_000).default(10_000),
  })
  .strict()

export type LogTailOptions = z.infer<typeof logTailOptionsSchema>
export const LOG_TAIL_DEFAULTS: LogTailOptions = logTailOptionsSchema.parse({})
