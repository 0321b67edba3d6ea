import { z } from 'zod'
import { httpOptionsSchema } from '../api/openwhisk/options.ts'
import { clusterOptionsSchema } from '../cluster/options.ts'
import { invokerOptionsSchema } from '../invoker/options.ts'
import { replicationOptionsSchema } from '../replication/options.ts'
import { DEFAULT_NAMESPACE, NAMESPACE_RE } from '../store/types.ts'

export const storeOptionsSchema = z
  .object({
    /** Largest function code (source or zip), bytes. OpenWhisk: 48 MB. */
    maxCodeBytes: z
      .number()
      .int()
      .min(1024)
      .max(512 * 1024 * 1024)
      .default(48 * 1024 * 1024),
  })
  .strict()

export const apiOptionsSchema = z
  .object({
    /** Largest function PUT body on the local API, bytes (code travels base64 inside JSON); other bodies take `invoker.maxPayloadBytes`. */
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .default(72 * 1024 * 1024),
    /** Group that owns the socket (mode 0660), e.g. `fnagent`; default the agent's own group. */
    socketGroup: z.string().min(1).optional(),
  })
  .strict()

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
    api: apiOptionsSchema.default(apiOptionsSchema.parse({})),
    /** The OpenWhisk REST API and web actions on TCP (off unless `http.listen` is set). */
    http: httpOptionsSchema.default(httpOptionsSchema.parse({})),
    invoker: invokerOptionsSchema.default(invokerOptionsSchema.parse({})),
    cluster: clusterOptionsSchema.default(clusterOptionsSchema.parse({})),
    replication: replicationOptionsSchema.default(replicationOptionsSchema.parse({})),
  })
  .strict()

export type ConfigInput = z.input<typeof configSchema>
export type Config = z.infer<typeof configSchema> & { socket: string }
