import type { IncomingMessage, ServerResponse } from 'node:http'

/** The body passed its limit: `size` bytes were declared or read (at least), `max` are allowed. */
export class BodyTooLarge extends Error {
  readonly size: number
  readonly max: number
  constructor(size: number, max: number) {
    super(`Request larger than allowed: ${size} > ${max} bytes.`)
    this.size = size
    this.max = max
  }
}

/**
 * Reads a request body of at most `maxBytes`. A declared `content-length` over the limit is refused
 * before a byte is read; a body that streams past it is refused at that chunk. Either way nothing
 * more is buffered (the caller answers 413; the connection is then closed, see `stopReading`).
 */
export function readLimited(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > maxBytes) {
    stopReading(req)
    return Promise.reject(new BodyTooLarge(declared, maxBytes))
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) {
        cleanup()
        stopReading(req)
        reject(new BodyTooLarge(size, maxBytes))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resolve(Buffer.concat(chunks, size))
    }
    const onError = (err: Error) => {
      cleanup()
      reject(err)
    }
    const cleanup = () => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
    }
    const onClose = () => {
      if (!req.complete) onError(new Error('the client went away while sending its request'))
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

/** Bytes of a refused body read and thrown away so the client sees the 413 (not a reset), at most. */
const LINGER_BYTES = 1024 * 1024
/** How long a refused request's connection stays open after the answer, at most, ms. */
const LINGER_MS = 2000

/**
 * Stops buffering a refused request, and closes its connection the lingering way (RFC 9112 §9.6):
 * the answer and a FIN go out, the rest of the body is read and discarded, and the socket is
 * destroyed only when the client closes its side, past LINGER_BYTES or LINGER_MS after the answer.
 * Closing a socket that still has data coming in makes the kernel send a reset, and a client still
 * writing its body (or too busy to have read yet) would lose the 413 and see "connection reset".
 */
function stopReading(req: IncomingMessage): void {
  const res = (req as IncomingMessage & { res?: ServerResponse }).res
  const socket = req.socket
  if (res) res.shouldKeepAlive = false
  // node's server calls destroySoon() once a last answer is written: end (FIN) without the destroy.
  socket.destroySoon = () => {
    if (socket.writable) socket.end()
  }
  let discarded = 0
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length
    if (discarded > LINGER_BYTES) socket.destroy()
  })
  req.on('error', () => {})
  req.resume()
  const drop = () => setTimeout(() => socket.destroy(), LINGER_MS).unref()
  if (!res || res.writableFinished) drop()
  else res.once('finish', drop).once('close', drop)
}
