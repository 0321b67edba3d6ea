import type { Stream } from '@libp2p/interface'
import type { z } from 'zod'
import type { Logger } from '../log.ts'
import {
  type ByteMeter,
  chunkOf,
  decoder,
  type Frame,
  FrameReader,
  FrameTooLargeError,
  FrameWriter,
  HEADER,
  QueueFullError,
} from './frames.ts'
import { type RpcDialer, RpcError, type RpcServer } from './rpc.ts'

/**
 * Many requests on one long-lived libp2p stream per peer, answered out of order. Opening a stream
 * per request cost a yamux open and close, a protocol negotiation, libp2p's per-stream logger and
 * peer-store lookups, and a dozen socket writes per side; on a channel a request is one frame each
 * way. Frames: a 4-byte big-endian length, then JSON `{ id, body }`; a response carries its
 * request's id. The channel ends when the stream or the connection does, and every call still
 * waiting on it fails as `stream` (it was sent; whether it ran is unknown).
 */

interface Pending {
  resolve: (answer: { body: unknown; bytes: number }) => void
  reject: (err: RpcError) => void
}

/** Sizes of one call's request and answer frames, bytes. */
export interface CallSizes {
  out: number
  in: number
}

/** The calling side: one channel per peer, opened on first use and reopened after it ends. */
class Channel {
  readonly peerId: string
  /** The protocol id both sides agreed on. */
  readonly protocol: string
  readonly #stream: Stream
  readonly #writer: FrameWriter
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #closed: RpcError | null = null

  constructor(peerId: string, stream: Stream, init: ChannelsInit, onEnd: () => void) {
    this.protocol = stream.protocol ?? ''
    this.peerId = peerId
    this.#stream = stream
    this.#writer = new FrameWriter(stream, init.maxBytes, init.meter)
    const reader = new FrameReader(init.maxBytes)
    stream.addEventListener('message', (evt) => {
      try {
        for (const raw of reader.push(chunkOf(evt.data))) {
          init.meter?.('in', raw.byteLength + HEADER)
          this.#answer(raw)
        }
      } catch (err) {
        stream.abort(err as Error)
      }
    })
    const end = (why: string) => {
      if (this.#closed) return
      this.#closed = new RpcError('stream', `${peerId} went away: ${why}`)
      for (const p of this.#pending.values()) p.reject(this.#closed)
      this.#pending.clear()
      onEnd()
    }
    stream.addEventListener('close', (evt) => end(evt.error?.message ?? 'the channel closed'))
    stream.addEventListener('remoteCloseWrite', () => end('the peer closed the channel'))
  }

  get open(): boolean {
    return this.#closed === null
  }

  #answer(raw: Uint8Array): void {
    let frame: Frame
    try {
      frame = JSON.parse(decoder.decode(raw)) as Frame
    } catch {
      throw new Error('an answer that is not JSON')
    }
    const p = typeof frame?.id === 'number' ? this.#pending.get(frame.id) : undefined
    if (!p) return // its caller gave up (timeout) — the answer is dropped
    this.#pending.delete(frame.id)
    if (typeof frame.error === 'string')
      p.reject(new RpcError('stream', `${this.peerId} failed: ${frame.error}`))
    else p.resolve({ body: frame.body, bytes: raw.byteLength + HEADER })
  }

  async call(body: unknown, signal: AbortSignal, sizes?: CallSizes): Promise<unknown> {
    if (this.#closed) throw this.#closed
    signal.throwIfAborted()
    const id = this.#nextId++
    const answer = new Promise<{ body: unknown; bytes: number }>((resolve, reject) =>
      this.#pending.set(id, { resolve, reject }),
    )
    answer.catch(() => {}) // observed below; the channel may end while the request is still being written
    const onAbort = () => {
      const p = this.#pending.get(id)
      this.#pending.delete(id)
      p?.reject(new RpcError('stream', `${this.peerId} did not answer in time: ${String(signal.reason)}`))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      const out = await this.#writer.write({ id, body })
      const got = await answer
      if (sizes) {
        sizes.out += out
        sizes.in += got.bytes
      }
      return got.body
    } catch (err) {
      this.#pending.delete(id)
      if (err instanceof RpcError) throw err
      if (err instanceof FrameTooLargeError)
        throw new RpcError('invalid', `a request to ${this.peerId} is too large: ${err.message}`, err)
      throw new RpcError('stream', `${this.peerId} went away: ${(err as Error).message}`, err)
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  close(): void {
    this.#stream.abort(new Error('the agent is stopping'))
  }
}

export interface ChannelsInit {
  maxBytes: number
  meter?: ByteMeter
}

/**
 * The calling side of a channel protocol: one channel per peer, opened on first use (negotiated
 * fully, so a peer that does not speak it refuses before anything is sent) and reopened after it
 * ends. Given several versions of the protocol (newest first), the channel speaks the first one the
 * peer also speaks (multistream-select): agents of different releases agree on a version instead of
 * assuming one, and `protocolOf` tells which. Errors are `RpcError`s: `unreachable` when no channel could be opened (nothing was sent;
 * `unsupported` when the peer does not speak the protocol), `stream` when the channel ended, the
 * peer's handler failed or the caller's signal fired after the request was sent, `invalid` when
 * the answer failed validation.
 */
export class RpcChannels {
  readonly #dialer: RpcDialer
  readonly #protocols: readonly string[]
  readonly #init: ChannelsInit
  readonly #channels = new Map<string, Promise<Channel>>()

  constructor(dialer: RpcDialer, protocols: string | readonly string[], init: ChannelsInit) {
    this.#dialer = dialer
    this.#protocols = typeof protocols === 'string' ? [protocols] : protocols
    this.#init = init
  }

  /** The protocol version negotiated with `peerId` (opening the channel if needed). */
  async protocolOf(peerId: string, signal: AbortSignal): Promise<string> {
    return (await this.#channel(peerId, signal)).protocol
  }

  /** Sends `body` and returns the peer's answer as decoded JSON; `sizes` grows by the frames' bytes. */
  async request(peerId: string, body: unknown, signal: AbortSignal, sizes?: CallSizes): Promise<unknown> {
    const channel = await this.#channel(peerId, signal)
    return channel.call(body, signal, sizes)
  }

  async call<Res>(
    peerId: string,
    body: unknown,
    response: z.ZodType<Res>,
    signal: AbortSignal,
  ): Promise<Res> {
    const result = response.safeParse(await this.request(peerId, body, signal))
    if (!result.success)
      throw new RpcError('invalid', `${peerId} answered ${this.#protocols[0]} with an invalid message`)
    return result.data
  }

  async #channel(peerId: string, signal: AbortSignal): Promise<Channel> {
    let p = this.#channels.get(peerId)
    if (p) {
      const ch = await p.catch(() => null)
      if (ch?.open) return ch
      if (this.#channels.get(peerId) === p) this.#channels.delete(peerId)
    }
    p = this.#open(peerId, signal)
    this.#channels.set(peerId, p)
    p.catch(() => {
      if (this.#channels.get(peerId) === p) this.#channels.delete(peerId)
    })
    return p
  }

  async #open(peerId: string, signal: AbortSignal): Promise<Channel> {
    let stream: Stream
    try {
      stream = await this.#dialer.dialProtocol(peerId, this.#protocols, signal, { negotiateFully: true })
    } catch (err) {
      throw new RpcError('unreachable', `cannot reach ${peerId}: ${(err as Error).message}`, err)
    }
    const channel: Channel = new Channel(peerId, stream, this.#init, () => {
      const current = this.#channels.get(peerId)
      // `current` may be a newer opening that fails: its rejection is its caller's, not ours.
      current?.then(
        (c) => {
          if (c === channel && this.#channels.get(peerId) === current) this.#channels.delete(peerId)
        },
        () => {},
      )
    })
    return channel
  }

  /** Ends every channel (the agent is stopping); calls waiting on them fail as `stream`. */
  closeAll(): void {
    for (const p of this.#channels.values()) p.then((c) => c.close()).catch(() => {})
    this.#channels.clear()
  }
}

export interface ServeChannelOptions {
  maxBytes: number
  /** Longest a handler may take for one request. */
  timeoutMs: number
  /** Most requests in progress on one channel; past it, `onBusy` answers at once. */
  maxInflight: number
  /** Answer bytes that may wait for a peer that stopped reading; past it the channel ends. */
  maxQueuedBytes?: number
  onBusy: () => unknown
  logger: Logger
  meter?: ByteMeter
}

/**
 * The serving side: each inbound channel carries many requests, each handled concurrently; the
 * handler gets the decoded JSON body (it validates it) and the sender's peer id. A handler that
 * throws answers an error for that request only; a frame that is not JSON, has no id or is over
 * the size bound ends the channel.
 */
export async function serveChannel(
  server: RpcServer,
  protocols: string | readonly string[],
  handler: (body: unknown, from: string, signal: AbortSignal, protocol: string) => Promise<unknown>,
  opts: ServeChannelOptions,
): Promise<void> {
  // Every version this agent speaks; the dialer's list decides which one a channel uses, and the
  // handler is told (a future version may shape its messages differently).
  for (const protocol of typeof protocols === 'string' ? [protocols] : protocols)
    await serveOne(server, protocol, handler, opts)
}

async function serveOne(
  server: RpcServer,
  protocol: string,
  handler: (body: unknown, from: string, signal: AbortSignal, protocol: string) => Promise<unknown>,
  opts: ServeChannelOptions,
): Promise<void> {
  await server.handle(protocol, (stream, connection) => {
    const from = connection.remotePeer.toString()
    const reader = new FrameReader(opts.maxBytes)
    const writer = new FrameWriter(stream, opts.maxBytes, opts.meter, opts.maxQueuedBytes)
    let inflight = 0
    const answer = (id: number, reply: Omit<Frame, 'id'>) =>
      writer
        .write({ id, ...reply })
        .catch((err: unknown) => {
          if (!(err instanceof FrameTooLargeError)) throw err
          return writer.write({ id, error: `the answer is too large: ${err.message}` })
        })
        .catch((err: unknown) => {
          if (!(err instanceof QueueFullError)) throw err
          // The peer sends requests but does not read the answers: end the channel, free the queue.
          opts.logger.warn({ protocol, peer: from, err }, 'ending a channel whose peer stopped reading')
          stream.abort(err)
        })
        .catch((err: unknown) => {
          opts.logger.debug(
            { err, protocol, peer: from },
            'could not answer on a channel (the peer went away)',
          )
        })
    const one = async (id: number, body: unknown) => {
      if (inflight >= opts.maxInflight) return answer(id, { body: opts.onBusy() })
      inflight++
      let reply: Omit<Frame, 'id'>
      try {
        reply = { body: await handler(body, from, AbortSignal.timeout(opts.timeoutMs), protocol) }
      } catch (err) {
        opts.logger.warn({ err, protocol, peer: from }, 'a channel request failed')
        reply = { error: (err as Error).message ?? String(err) }
      } finally {
        inflight--
      }
      return answer(id, reply)
    }
    stream.addEventListener('message', (evt) => {
      try {
        for (const raw of reader.push(chunkOf(evt.data))) {
          opts.meter?.('in', raw.byteLength + HEADER)
          const frame = JSON.parse(decoder.decode(raw)) as Frame
          if (typeof frame?.id !== 'number') throw new Error('a request without an id')
          one(frame.id, frame.body).catch((err: unknown) =>
            opts.logger.error({ err, protocol }, 'channel handler bug'),
          )
        }
      } catch (err) {
        opts.logger.debug({ err, protocol, peer: from }, 'ending a channel that sent a malformed frame')
        stream.abort(err as Error)
      }
    })
    stream.addEventListener('remoteCloseWrite', () => {
      stream.close().catch(() => {})
    })
  })
}
