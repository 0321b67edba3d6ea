import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { z } from 'zod'

/**
 * One JSON request and one JSON response on a libp2p stream, each length-prefixed and
 * size-bounded, validated with a schema on arrival: the forwarding protocol of the first release
 * (channel.ts carries many requests per stream).
 */
export interface RpcDialer {
  dialProtocol(
    peerId: string,
    protocol: string,
    signal: AbortSignal,
    opts?: { negotiateFully?: boolean },
  ): Promise<Stream>
}

export interface RpcServer {
  handle(
    protocol: string,
    handler: (stream: Stream, connection: Connection) => void | Promise<void>,
  ): Promise<void>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class RpcError extends Error {
  /**
   * `unreachable`: no stream could be opened (nothing was sent); `stream`: the peer went away or
   * the stream broke after the request was sent; `invalid`: the answer failed validation.
   */
  readonly kind: 'unreachable' | 'stream' | 'invalid'
  constructor(kind: 'unreachable' | 'stream' | 'invalid', message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.kind = kind
  }

  /** The peer answered that it does not speak the protocol (an agent of an older release). */
  get unsupported(): boolean {
    for (let e: unknown = this.cause; e instanceof Error; e = e.cause)
      if (e.name === 'UnsupportedProtocolError') return true
    return false
  }
}

export async function call<Res>(
  dialer: RpcDialer,
  peerId: string,
  protocol: string,
  request: unknown,
  response: z.ZodType<Res>,
  opts: { signal: AbortSignal; maxBytes: number },
): Promise<Res> {
  let stream: Stream
  try {
    stream = await dialer.dialProtocol(peerId, protocol, opts.signal)
  } catch (err) {
    throw new RpcError('unreachable', `cannot reach ${peerId}: ${(err as Error).message}`, err)
  }
  const lp = lpStream(stream, { maxDataLength: opts.maxBytes })
  let raw: string
  try {
    await lp.write(encoder.encode(JSON.stringify(request)), { signal: opts.signal })
    raw = decoder.decode((await lp.read({ signal: opts.signal })).subarray())
  } catch (err) {
    stream.abort(err as Error)
    throw new RpcError('stream', `${peerId} went away during ${protocol}: ${(err as Error).message}`, err)
  }
  await stream.close().catch(() => {})
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch (err) {
    throw new RpcError('invalid', `${peerId} answered ${protocol} with invalid JSON`, err)
  }
  const result = response.safeParse(parsed)
  if (!result.success) throw new RpcError('invalid', `${peerId} answered ${protocol} with an invalid message`)
  return result.data
}

/** Serves a protocol: each stream carries one request; invalid requests get `onInvalid`'s answer. */
export async function serve<Req>(
  server: RpcServer,
  protocol: string,
  request: z.ZodType<Req>,
  handler: (req: Req, signal: AbortSignal) => Promise<unknown>,
  opts: { maxBytes: number; timeoutMs: number; onInvalid: (reason: string) => unknown },
): Promise<void> {
  await server.handle(protocol, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: opts.maxBytes })
    const signal = AbortSignal.timeout(opts.timeoutMs)
    try {
      const raw = decoder.decode((await lp.read({ signal })).subarray())
      let answer: unknown
      let parsed: unknown
      try {
        parsed = JSON.parse(raw)
      } catch {
        parsed = undefined
      }
      const result = request.safeParse(parsed)
      if (!result.success) answer = opts.onInvalid(result.error.issues[0]?.message ?? 'invalid request')
      else answer = await handler(result.data, signal)
      await lp.write(encoder.encode(JSON.stringify(answer)), { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  })
}
