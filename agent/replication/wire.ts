import type { z } from 'zod'
import {
  type MemberView,
  RpcChannels,
  type RpcDialer,
  type RpcServer,
  serveChannel,
} from '../cluster/index.ts'
import type { Logger } from '../log.ts'
import type { HybridClock } from '../store/hlc.ts'
import { type ErrorAnswer, errorSchema, REPL_PROTOCOL, type Request, requestSchema } from './messages.ts'
import type { DropReason, ReplicationStats } from './stats.ts'

/** The part of the cluster replication uses (the real `Cluster`, or a wrapper in tests). */
export interface ReplicationCluster extends RpcDialer, RpcServer {
  readonly peerId: string
  view(): MemberView[]
  onChange(listener: (m: MemberView) => void): () => void
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

/** Requests one peer may have in progress here at once over its channel. */
const MAX_INFLIGHT_PER_CHANNEL = 64

/**
 * JSON requests and answers between replicas, size-bounded, validated, counted: on one long-lived
 * channel per peer (`/fnagent/repl/1.1.0`).
 */
export class Wire {
  readonly #cluster: ReplicationCluster
  readonly #clock: HybridClock
  readonly #stats: ReplicationStats
  readonly #maxBytes: number
  readonly #logger: Logger
  readonly #channels: RpcChannels

  constructor(
    cluster: ReplicationCluster,
    clock: HybridClock,
    stats: ReplicationStats,
    maxBytes: number,
    logger: Logger,
  ) {
    this.#cluster = cluster
    this.#clock = clock
    this.#stats = stats
    this.#maxBytes = maxBytes
    this.#logger = logger
    this.#channels = new RpcChannels(cluster, REPL_PROTOCOL, {
      maxBytes,
      meter: this.#meter,
    })
  }

  readonly #meter = (direction: 'in' | 'out', bytes: number) => {
    if (direction === 'in') this.#stats.bytesIn += bytes
    else this.#stats.bytesOut += bytes
  }

  /** Ends the channels to peers (replication is stopping). */
  close(): void {
    this.#channels.closeAll()
  }

  /** Sends one request and returns the validated answer; `meter.bytes` grows by the bytes both ways. */
  async request<T>(
    peerId: string,
    req: Request,
    answer: z.ZodType<T>,
    signal: AbortSignal,
    meter?: { bytes: number },
  ): Promise<T> {
    const sizes = { out: 0, in: 0 }
    let parsed: unknown
    try {
      parsed = await this.#channels.request(peerId, req, signal, sizes)
    } catch (err) {
      if (err instanceof ReplicationRequestError) throw err
      throw new ReplicationRequestError(peerId, `${req.type} to ${peerId}: ${(err as Error).message}`, err)
    }
    if (meter) meter.bytes += sizes.out + sizes.in
    return this.#validate(peerId, req, parsed, answer)
  }

  #validate<T>(peerId: string, req: Request, parsed: unknown, answer: z.ZodType<T>): T {
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
    await serveChannel(
      this.#cluster,
      REPL_PROTOCOL,
      (body, from, signal) => this.#answerParsed(body, from, handler, signal),
      {
        maxBytes: this.#maxBytes,
        timeoutMs,
        maxInflight: MAX_INFLIGHT_PER_CHANNEL,
        onBusy: (): ErrorAnswer => ({
          type: 'error',
          reason: 'busy',
          message: 'too many requests in progress',
        }),
        logger: this.#logger,
        meter: this.#meter,
      },
    )
  }

  async #answerParsed(
    parsed: unknown,
    from: string,
    handler: (req: Request, from: string, signal: AbortSignal) => Promise<unknown>,
    signal: AbortSignal,
  ): Promise<unknown> {
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
