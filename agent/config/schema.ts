import { z } from 'zod'
import { openwhiskApiOptionsSchema } from '../api/openwhisk/options.ts'
import { localApiOptionsSchema } from '../api/options.ts'
import { clusterOptionsSchema } from '../cluster/options.ts'
import { invokerOptionsSchema } from '../invoker/options.ts'
import { placementOptionsSchema } from '../placement/options.ts'
import { replicationOptionsSchema } from '../replication/options.ts'
import { storeOptionsSchema } from '../store/options.ts'
import { DEFAULT_NAMESPACE, NAMESPACE_RE } from '../store/types.ts'

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
  })
  .strict()

export type ConfigInput = z.input<typeof configSchema>
export type Config = z.infer<typeof configSchema> & { socket: string }
