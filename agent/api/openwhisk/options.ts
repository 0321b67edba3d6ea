import { z } from 'zod'

/** host:port, [ipv6]:port or a bare port. */
export const LISTEN_RE = /^(?:(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?\d{1,5}$/

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
    /**
     * Serve plain HTTP on an address other than loopback. API keys then cross the network in clear
     * text: only for a TLS proxy in front of the agent on a trusted network.
     */
    insecurePlainHttp: z.boolean().default(false),
    /** Largest action PUT body, bytes (code up to 48 MiB travels base64 inside JSON); invocations and web actions take `invoker.maxPayloadBytes`. */
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
    /**
     * Port of the API's endpoint for this node's function containers, on the host's address on
     * their bridge (`__OW_API_HOST`); 0 = any free port; null = none. Only with `listen`.
     */
    bridgePort: z.number().int().min(0).max(65535).nullable().default(0),
  })
  .strict()
  .refine((o) => !o.tlsCert === !o.tlsKey, {
    message: 'give both openwhiskApi.tlsCert and openwhiskApi.tlsKey, or neither',
  })
  .superRefine((o, ctx) => {
    const refusal = plainHttpRefusal(o)
    if (refusal) ctx.addIssue({ code: 'custom', path: ['listen'], message: refusal })
  })

export type OpenWhiskApiOptions = z.infer<typeof openwhiskApiOptionsSchema>
export const OPENWHISK_API_DEFAULTS: OpenWhiskApiOptions = openwhiskApiOptionsSchema.parse({})

/** Whether `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/**
 * Why the listener may not start as configured: plain HTTP on a non-loopback address would carry
 * API keys (basic auth) in clear text. Null when the configuration is safe or explicitly insecure.
 */
export function plainHttpRefusal(o: {
  listen?: string | undefined
  tlsCert?: string | undefined
  insecurePlainHttp: boolean
}): string | null {
  if (!o.listen || o.tlsCert || o.insecurePlainHttp) return null
  const { host } = parseListen(o.listen)
  if (isLoopback(host)) return null
  return (
    `openwhiskApi.listen ${o.listen} is reachable from the network but has no TLS certificate: API keys ` +
    'would cross it in clear text. Set openwhiskApi.tlsCert and openwhiskApi.tlsKey, listen on 127.0.0.1 behind a ' +
    'TLS proxy, or, on a network you trust, start with --api-insecure-plain-http ' +
    '(openwhiskApi.insecurePlainHttp: true)'
  )
}

/** Splits `host:port` (default host 0.0.0.0). */
export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':')
  const host = i < 0 ? '0.0.0.0' : listen.slice(0, i).replace(/^\[|\]$/g, '')
  const port = Number(i < 0 ? listen : listen.slice(i + 1))
  return { host, port }
}
