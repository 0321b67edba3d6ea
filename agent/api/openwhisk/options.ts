import { z } from 'zod'

/** host:port, [ipv6]:port or a bare port. */
const LISTEN_RE = /^(?:(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?\d{1,5}$/

export const rateLimitOptionsSchema = z
  .object({
    /** Sustained requests per minute for one API key (OpenWhisk's per-namespace default: 60 invocations). */
    perMinute: z.number().int().min(1).max(1_000_000).default(600),
    /** Bucket size: requests a key may send at once after being idle. */
    burst: z.number().int().min(1).max(1_000_000).default(100),
  })
  .strict()

/** The optional OpenWhisk REST API + web actions listener (off unless `listen` is given). */
export const openwhiskApiOptionsSchema = z
  .object({
    /** `host:port` to listen on, e.g. `0.0.0.0:3233`; absent = no TCP listener. */
    listen: z.string().regex(LISTEN_RE, 'host:port').optional(),
    /** PEM certificate and key files; both given = HTTPS. */
    tlsCert: z.string().min(1).optional(),
    tlsKey: z.string().min(1).optional(),
    /** Largest request body, bytes (OpenWhisk: 1 MB payload, code up to 48 MB inside JSON). */
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .default(72 * 1024 * 1024),
    /** Longest a blocking invocation waits before answering 202 with the activation id (OpenWhisk: 60 s). */
    blockingWaitMs: z.number().int().min(100).max(300_000).default(60_000),
    /** Slow clients: time to send the headers, and the whole request, ms. */
    headersTimeoutMs: z.number().int().min(1000).default(20_000),
    requestTimeoutMs: z.number().int().min(1000).default(120_000),
    keepAliveTimeoutMs: z.number().int().min(0).default(30_000),
    rateLimit: rateLimitOptionsSchema.default(rateLimitOptionsSchema.parse({})),
  })
  .strict()
  .refine((o) => !o.tlsCert === !o.tlsKey, {
    message: 'give both openwhiskApi.tlsCert and openwhiskApi.tlsKey, or neither',
  })

export type OpenWhiskApiOptions = z.infer<typeof openwhiskApiOptionsSchema>
export const OPENWHISK_API_DEFAULTS: OpenWhiskApiOptions = openwhiskApiOptionsSchema.parse({})

/** Splits `host:port` (default host 0.0.0.0). */
export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':')
  const host = i < 0 ? '0.0.0.0' : listen.slice(0, i).replace(/^\[|\]$/g, '')
  const port = Number(i < 0 ? listen : listen.slice(i + 1))
  return { host, port }
}
