import { Socket } from 'node:net'
import type { ConnectionProtector, MessageStream } from '@libp2p/interface'

interface SocketConn {
  socket?: unknown
  sendData(data: unknown): { sentBytes: number; canSendMore: boolean }
}

/**
 * Wraps the connection protector (pnet) so that every TCP connection it protects coalesces the
 * writes of one tick into one syscall: yamux sends each frame header and body as separate noise
 * frames, so a single forwarded invocation made a dozen 30–800 byte `write`s per side, each of
 * which on loopback also runs the receiver's TCP stack. Corking until `process.nextTick` sends them
 * as one `writev`, at no added latency (the tick ends before the event loop waits for I/O again).
 */
export function coalescedWrites<C>(
  factory: (components: C) => ConnectionProtector,
): (components: C) => ConnectionProtector {
  return (components: C) => {
    const inner = factory(components)
    return {
      [Symbol.toStringTag]: '@fnagent/coalesced-writes',
      protect(connection: MessageStream, options) {
        corkEachTick(connection as unknown as SocketConn)
        return inner.protect(connection, options)
      },
    } satisfies ConnectionProtector & { [Symbol.toStringTag]: string }
  }
}

function corkEachTick(conn: SocketConn): void {
  const socket = conn.socket
  if (!(socket instanceof Socket) || typeof conn.sendData !== 'function') return
  const send = conn.sendData.bind(conn)
  let corked = false
  const uncork = () => {
    corked = false
    socket.uncork()
  }
  conn.sendData = (data) => {
    if (!corked && !socket.destroyed) {
      corked = true
      socket.cork()
      process.nextTick(uncork)
    }
    return send(data)
  }
}
