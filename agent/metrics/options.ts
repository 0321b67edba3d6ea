import { z } from 'zod'
import { LISTEN_RE } from '../api/openwhisk/options.ts'

/** Prometheus metrics (docs/observability.md). */
export const metricsOptionsSchema = z
  .object({
    /** Count and serve metrics; off, `/metrics` answers 404 and nothing is counted. */
    enabled: z.boolean().default(true),
    /**
     * `host:port` of a plain-HTTP listener serving only `/metrics`, for a node whose OpenWhisk API is
     * off (with the API on, `/metrics` is on its listener too). Absent = no separate listener.
     */
    listen: z.string().regex(LISTEN_RE, 'host:port').optional(),
    /**
     * Distinct functions (`namespace/name`) given their own label values; the ones seen after that
     * are counted under `_other`, so a tenant creating functions cannot grow the scrape without bound.
     */
    maxFunctions: z.number().int().min(1).max(10_000).default(100),
  })
  .strict()

export type MetricsOptions = z.infer<typeof metricsOptionsSchema>
export const METRICS_DEFAULTS: MetricsOptions = metricsOptionsSchema.parse({})
