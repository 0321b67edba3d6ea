import type { Agent as HttpAgent } from 'node:http'

// Not `import … from 'node:http'`: building that module's ESM namespace loads undici (agent/api/server.ts).
const http = process.getBuiltinModule('node:http')

export interface Reply {
  status: number
  body: Buffer
  /** The body exceeded `maxBytes` and was not read to its end: `body` holds its first `maxBytes`. */
  tooLarge: boolean
  size: number
}

/**
 * Keep-alive connections to one container: one until its function allows more activations at once
 * (`FnContainer.serve` raises `maxSockets` to its concurrency); sockets stay open between runs.
 */
export function containerAgent(): HttpAgent {
  return new http.Agent({ keepAlive: true, maxSockets: 1, keepAliveMsecs: 10_000 })
}

/** Rejection of a request sent on a kept-alive socket the server had closed: safe to send again. */
export function isStaleSocket(err: unknown): boolean {
  return (err as { staleSocket?: boolean } | null)?.staleSocket === true
}

/** POSTs a JSON body to the container's action server; rejects on connection errors and on abort. */
export function postJson(
  agent: HttpAgent,
  host: string,
  path: string,
  body: string,
  opts: { signal: AbortSignal; maxBytes: number; port?: number },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host,
        port: opts.port ?? 8080,
        path,
        method: 'POST',
        agent,
        signal: opts.signal,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > opts.maxBytes) {
            res.destroy()
            req.destroy()
            // The whole size when the server declared it (OpenWhisk reports it), else what came.
            const declared = Number(res.headers['content-length'])
            const body = Buffer.concat([...chunks, chunk]).subarray(0, opts.maxBytes)
            resolve({
              status: res.statusCode ?? 0,
              body,
              tooLarge: true,
              size: declared > size ? declared : size,
            })
            return
          }
          chunks.push(chunk)
        })
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), tooLarge: false, size }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', (err: Error & { staleSocket?: boolean }) => {
      // A kept-alive socket the server closed while idle: the request never reached it.
      if (req.reusedSocket && (err as { code?: string }).code === 'ECONNRESET') err.staleSocket = true
      reject(err)
    })
    req.end(body)
  })
}

/**
 * Connection refused: the server is not listening yet (nothing was sent, so trying again is safe).
 * A reset is not retried: the server may have refused the body (a runtime of an older image drops
 * the connection on a body over its limit), and retrying it would only repeat that until the timeout.
 */
export function isConnectError(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH'
}
