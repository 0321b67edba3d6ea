import { z } from 'zod'
import { KINDS } from '../store/types.ts'

export const prewarmSchema = z
  .object({
    kind: z.enum(KINDS).exclude(['blackbox', 'sequence']),
    memory: z.number().int().min(128).max(2048).default(256),
    count: z.number().int().min(0).max(64).default(1),
  })
  .strict()

/** Invoker (container pool) options with their defaults. */
export const invokerOptionsSchema = z
  .object({
    /** The OpenWhisk API URL actions may call back, given to every container as `__OW_API_HOST`. */
    apiHost: z.url().optional(),
    /** Memory the node gives to function containers, MiB; default `memoryShare` of total memory. */
    memoryBudgetMiB: z.number().int().min(128).optional(),
    /** Share of total memory used when `memoryBudgetMiB` is not set. */
    memoryShare: z.number().min(0.05).max(0.95).default(0.5),
    /** Prewarmed containers: runtime containers started ahead of need, per kind and memory size. */
    prewarm: z.array(prewarmSchema).default([{ kind: 'nodejs:24', memory: 256, count: 1 }]),
    /** An idle warm container is removed after this long (ms). */
    idleTtlMs: z.number().int().min(1000).default(600_000),
    /** An idle warm container is paused after this long (ms); 0 disables pausing. */
    pauseGraceMs: z.number().int().min(0).default(10_000),
    /** The Docker network function containers join (created when missing; no route to the agent). */
    network: z.string().min(1).default('fnagent-functions'),
    /** CPU shares per 256 MiB of memory limit (Docker `--cpu-shares`). */
    cpuSharesPer256MiB: z.number().int().min(2).default(256),
    /** Process limit per container. */
    pidsLimit: z.number().int().min(16).default(1024),
    /** Largest `/run` result and request body, bytes (OpenWhisk: 1 MB). */
    maxPayloadBytes: z
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024),
    /** Size of the tmpfs mounted on /tmp in each container, MiB (counts against its memory limit). */
    tmpfsMiB: z.number().int().min(1).default(64),
    /** After `/run` answers, how long to wait for both log sentinels before giving up (ms). */
    logSentinelWaitMs: z.number().int().min(0).default(2_000),
    /** Blackbox images may print no sentinels: logs are taken once output is quiet this long (ms). */
    blackboxLogQuietMs: z.number().int().min(0).default(50),
    /** Timeout of each Docker API call (create, start, inspect, pause, kill, remove), ms. */
    dockerTimeoutMs: z.number().int().min(100).default(30_000),
    /** Drop traffic from function containers to the host itself (iptables INPUT rule on the bridge). */
    isolateHost: z.boolean().default(true),
  })
  .strict()

export type InvokerOptions = z.infer<typeof invokerOptionsSchema>
