import type { Connection, Stream } from '@libp2p/interface'

/**
 * What a request channel (channel.ts) needs of the cluster: dialing a peer's protocol, and
 * serving one; and the error every failed request raises.
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

  /** The peer answered that it does not speak the protocol (nothing was sent). */
  get unsupported(): boolean {
    for (let e: unknown = this.cause; e instanceof Error; e = e.cause)
      if (e.name === 'UnsupportedProtocolError') return true
    return false
  }
}
