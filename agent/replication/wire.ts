import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { z } from 'zod'
import type { HybridClock } from '../store/hlc.ts'
import { type ErrorAnswer, errorSchema, REPL_PROTOCOL, type Request, requestSchema } from './messages.ts'
import type { DropReason, ReplicationStats } from './stats.ts'

/** The part of the cluster replication uses (the real `Cluster`, or a wrapper in tests). */
export interface ReplicationCluster {
  readonly peerId: string
  view(): import('../cluster/index.ts').MemberView[]
  onChange(listener: (m: import('../cluster/index.ts').MemberView) => void): () => void
  handle(
    protocol: string,
    handler: (stream: Stream, connection: Connection) => void | Promise<void>,
  ): Promise<void>
  dialProtocol(peerId: string, protocol: string, signal: AbortSignal): Promise<Stream>
}

/** A request that failed: the peer could not be reached, went away, or answered nonsense. */
export class ReplicationRequestError extends Error {
  readonly peerId: string
  constructor(peerId: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.peerId = peerId
  }
}

/** Thrown by a handler to answer an error and count a dropped message. */
export class Dropped extends Error {
  readonly reason: DropReason
  constructor(reason: DropReason, message: string) {
    super(message)
    this.reason = reason
  }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Length-prefixed JSON request/response over `/fnagent/repl/1.0.0`, size-bounded, validated, counted. */
export class Wire {
  readonly #cluster: ReplicationCluster
  readonly #clock: HybridClock
  readonly #stats: ReplicationStats
  readonly #maxBytes: number

  constructor(cluster: ReplicationCluster, clock: HybridClock, stats: ReplicationStats, maxBytes: number) {
    this.#cluster = cluster
    this.#clock = clock
    this.#stats = stats
    this.#maxBytes = maxBytes
  }

  /** Sends one request and returns the validated answer; `meter.bytes` grows by the bytes both ways. */
  async request<T>(
    peerId: string,
    req: Request,
    answer: z.ZodType<T>,
    signal: AbortSignal,
    meter?: { bytes: number },
  ): Promise<T> {
    let stream: Stream
    try {
      stream = await this.#cluster.dialProtocol(peerId, REPL_PROTOCOL, signal)
    } catch (err) {
      throw new ReplicationRequestError(peerId, `cannot reach ${peerId}: ${(err as Error).message}`, err)
    }
    const lp = lpStream(stream, { maxDataLength: this.#maxBytes })
    let raw: Uint8Array
    try {
      const bytes = encoder.encode(JSON.stringify(req))
      this.#stats.bytesOut += bytes.byteLength
      await lp.write(bytes, { signal })
      raw = (await lp.read({ signal })).subarray()
      this.#stats.bytesIn += raw.byteLength
      if (meter) meter.bytes += bytes.byteLength + raw.byteLength
    } catch (err) {
      stream.abort(err as Error)
      throw new ReplicationRequestError(
        peerId,
        `${peerId} went away during ${req.type}: ${(err as Error).message}`,
        err,
      )
    }
    await stream.close().catch(() => {})
    let parsed: unknown
    try {
      parsed = JSON.parse(decoder.decode(raw))
    } catch {
      this.#stats.drop('invalid')
      throw new ReplicationRequestError(peerId, `${peerId} answered ${req.type} with invalid JSON`)
    }
    const refused = errorSchema.safeParse(parsed)
    if (refused.success) {
      throw new ReplicationRequestError(peerId, `${peerId} refused ${req.type}: ${refused.data.message}`)
    }
    const result = answer.safeParse(parsed)
    if (!result.success) {
      this.#stats.drop('invalid')
      throw new ReplicationRequestError(peerId, `${peerId} answered ${req.type} with an invalid message`)
    }
    return result.data
  }

  /** Serves the protocol: validates each request (dropping and counting bad ones) and answers it. */
  async serve(
    handler: (req: Request, from: string, signal: AbortSignal) => Promise<unknown>,
    timeoutMs: number,
  ): Promise<void> {
    await this.#cluster.handle(REPL_PROTOCOL, async (stream, connection) => {
      const lp = lpStream(stream, { maxDataLength: this.#maxBytes })
      const signal = AbortSignal.timeout(timeoutMs)
      const from = connection.remotePeer.toString()
      try {
        let raw: Uint8Array
        try {
          raw = (await lp.read({ signal })).subarray()
        } catch (err) {
          if ((err as Error).name === 'InvalidMessageLengthError') this.#stats.drop('tooLarge')
          throw err
        }
        this.#stats.bytesIn += raw.byteLength
        const answer = await this.#answer(raw, from, handler, signal)
        const bytes = encoder.encode(JSON.stringify(answer))
        this.#stats.bytesOut += bytes.byteLength
        await lp.write(bytes, { signal })
        await stream.close({ signal })
      } catch (err) {
        stream.abort(err as Error)
      }
    })
  }

  async #answer(
    raw: Uint8Array,
    from: string,
    handler: (req: Request, from: string, signal: AbortSignal) => Promise<unknown>,
    signal: AbortSignal,
  ): Promise<unknown> {
    let parsed: unknown
    try {
      parsed = JSON.parse(decoder.decode(raw))
    } catch {
      parsed = undefined
    }
    const req = requestSchema.safeParse(parsed)
    if (!req.success) return this.#refuse('invalid', req.error.issues[0]?.message ?? 'invalid request')
    this.#clock.update(req.data.hlc)
    try {
      return await handler(req.data, from, signal)
    } catch (err) {
      if (err instanceof Dropped) return this.#refuse(err.reason, err.message)
      throw err
    }
  }

  #refuse(reason: DropReason, message: string): ErrorAnswer {
    this.#stats.drop(reason)
    return { type: 'error', reason, message }
  }
}
