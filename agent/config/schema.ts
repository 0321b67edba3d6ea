import { z } from 'zod'
import { openwhiskApiOptionsSchema } from '../api/openwhisk/options.ts'
import { localApiOptionsSchema } from '../api/options.ts'
import { clusterOptionsSchema } from '../cluster/options.ts'
import { dashboardOptionsSchema } from '../dashboard/options.ts'
import { alarmOptionsSchema } from '../events/options.ts'
import { invokerOptionsSchema } from '../invoker/options.ts'
import { logTailOptionsSchema } from '../logs/options.ts'
import { metricsOptionsSchema } from '../metrics/options.ts'
import { placementOptionsSchema } from '../placement/options.ts'
import { queueOptionsSchema } from '../queue/options.ts'
import { replicationOptionsSchema } from '../replication/options.ts'
import { storeOptionsSchema } from '../store/options.ts'
import { DEFAULT_NAMESPACE, NAMESPACE_RE } from '../store/types.ts'

export const clockOptionsSchema = z
  .object({
    /**
     * How far a peer's timestamp may run ahead of this node's clock, ms. Records stamped further
     * ahead are refused at the wire until they no longer are (see docs/architecture.md).
     */
    maxDriftMs: z.number().int().min(100).max(3_600_000).default(60_000),
  })
  .strict()

/**
 * Fault injection for the consistency tests (test/integration/jepsen.test.ts), refused unless
 * `enabled` is set explicitly: a skewed clock and connections cut to chosen peers.
 */
export const faultsOptionsSchema = z
  .object({
    /** Must be true for any other fault setting to be accepted (tests only). */
    enabled: z.boolean().default(false),
    /** Added to this agent's wall clock, ms (skews its HLC). */
    clockOffsetMs: z.number().int().default(0),
    /**
     * A JSON file re-read every 200 ms, `{"clockOffsetMs": n, "cut": [peerId, ...]}`: a clock offset
     * that replaces the one above, and the peers whose connections are refused and closed.
     */
    file: z.string().min(1).optional(),
  })
  .strict()
  .refine((f) => f.enabled || (f.clockOffsetMs === 0 && f.file === undefined), {
    message: 'fault injection is for tests only: set faults.enabled (FNAGENT_FAULTS_ENABLED=true) to use it',
  })

export const configSchema = z
  .object({
    /** Where the agent keeps its LevelDB, identity, cluster key and config. */
    dataDir: z.string().min(1),
    /** Local API unix socket; default `<dataDir>/fnagent.sock`. */
    socket: z.string().min(1).optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** The namespace this node's functions live in (OpenWhisk's `_`). */
    namespace: z.string().regex(NAMESPACE_RE).default(DEFAULT_NAMESPACE),
    /** Longest time a stop waits for in-flight work before cancelling it, ms. */
    drainMs: z.number().int().min(0).max(600_000).default(10_000),
    store: storeOptionsSchema.default(storeOptionsSchema.parse({})),
    /** The local API on the unix socket (the CLI's). */
    localApi: localApiOptionsSchema.default(localApiOptionsSchema.parse({})),
    /** The OpenWhisk REST API and web actions on TCP (off unless `openwhiskApi.listen` is set). */
    openwhiskApi: openwhiskApiOptionsSchema.default(openwhiskApiOptionsSchema.parse({})),
    invoker: invokerOptionsSchema.default(invokerOptionsSchema.parse({})),
    cluster: clusterOptionsSchema.default(clusterOptionsSchema.parse({})),
    placement: placementOptionsSchema.default(placementOptionsSchema.parse({})),
    replication: replicationOptionsSchema.default(replicationOptionsSchema.parse({})),
    queue: queueOptionsSchema.default(queueOptionsSchema.parse({})),
    /** Alarm feeds: how the owner of each alarm schedules its ticks (docs/events.md). */
    alarms: alarmOptionsSchema.default(alarmOptionsSchema.parse({})),
    clock: clockOptionsSchema.default(clockOptionsSchema.parse({})),
    /** Prometheus `/metrics` (docs/observability.md). */
    metrics: metricsOptionsSchema.default(metricsOptionsSchema.parse({})),
    /** The cluster-wide log tail, `fnagent logs -f` (docs/observability.md). */
    logTail: logTailOptionsSchema.default(logTailOptionsSchema.parse({})),
    /** The web dashboard on the OpenWhisk API listener (docs/observability.md). */
    dashboard: dashboardOptionsSchema.default(dashboardOptionsSchema.parse({})),
    faults: faultsOptionsSchema.default(faultsOptionsSchema.parse({})),
  })
  .strict()

export type ConfigInput = z.input<typeof configSchema>
export type Config = z.infer<typeof configSchema> & { socket: string }
