import { z } from 'zod'

const DAY = 24 * 3600_000

/** Replication options (config section `replication`) with their defaults. */
export const replicationOptionsSchema = z
  .object({
    /** Copies kept of each code blob and activation record (owners by rendezvous hashing). */
    replicas: z.number().int().min(1).max(16).default(3),
    /** Anti-entropy period: one digest exchange with a random live peer, ms. */
    antiEntropyMs: z.number().int().min(50).max(3_600_000).default(5000),
    /** Record and blob bytes one anti-entropy round may move (rounds follow each other while work is left). */
    maxRepairBytesPerRound: z
      .number()
      .int()
      .min(64 * 1024)
      .default(4 * 1024 * 1024),
    /** Largest replication message accepted or sent, bytes (a 48 MiB code blob travels base64 inside JSON). */
    maxMessageBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .default(72 * 1024 * 1024),
    /** Activation records older than this (by start time) are deleted and no longer accepted, ms. */
    activationRetentionMs: z
      .number()
      .int()
      .min(1000)
      .default(7 * DAY),
    /** At most this many activation records per node; the oldest go first. */
    activationMaxCount: z.number().int().min(1).default(1_000_000),
    /** A function's tombstone is forgotten this long after the delete, ms. */
    tombstoneGraceMs: z
      .number()
      .int()
      .min(1000)
      .default(7 * DAY),
    /** How often retention runs, ms. */
    retentionEveryMs: z.number().int().min(100).default(60_000),
    /** Owner copies an activation record waits for before `activationStored` resolves (0: none). */
    waitReplicas: z.number().int().min(0).max(16).default(0),
    /** Bound on waiting for copies and on each replication request, ms. */
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  })
  .strict()

export type ReplicationOptions = z.infer<typeof replicationOptionsSchema>
export const REPLICATION_DEFAULTS: ReplicationOptions = replicationOptionsSchema.parse({})
