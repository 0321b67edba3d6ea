// Not `import … from 'node:http'`: on Node 24 building that module's ESM namespace reads its
// `WebSocket` getter, which loads undici (about 13 MiB of RSS; the daemon loads this file too).
const { request } = process.getBuiltinModule('node:http')

import type { ErrorCode } from '../agent/errors.ts'

/** An error answered by the agent, with its stable code. */
export class ApiError extends Error {
  readonly code: string
  readonly status: number
  readonly details?: Record<string, unknown>
  constructor(status: number, code: string, message: string, details?: Record<string, unknown>) {
    super(message)
    this.status = status
    this.code = code
    this.details = details
  }
}

/** The agent is not running (no socket, or nothing answers on it). */
export class NoAgentError extends Error {
  readonly code: ErrorCode = 'NO_AGENT'
}

/** Talks to the local agent over its unix socket. */
export class Client {
  readonly socket: string
  /** `--namespace`: every request acts on it (the agent's own namespace when absent). */
  readonly namespace: string | undefined
  constructor(socket: string, namespace?: string) {
    this.socket = socket
    this.namespace = namespace
  }

  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    opts: { timeoutMs?: number } = {},
  ): Promise<{ status: number; body: T }> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socket,
          method,
          path,
          headers: {
            ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}),
            ...(this.namespace ? { 'x-fnagent-namespace': this.namespace } : {}),
          },
          timeout: opts.timeoutMs ?? 0,
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('error', reject)
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            let parsed: unknown
            try {
              parsed = text ? JSON.parse(text) : undefined
            } catch {
              reject(
                new Error(
                  `the agent answered ${res.statusCode} with a body that is not JSON: ${text.slice(0, 200)}`,
                ),
              )
              return
            }
            const status = res.statusCode ?? 0
            if (status >= 400) {
              const e = (
                parsed as { error?: { code?: string; message?: string; details?: Record<string, unknown> } }
              )?.error
              reject(
                new ApiError(status, e?.code ?? 'HTTP_' + status, e?.message ?? `HTTP ${status}`, e?.details),
              )
              return
            }
            resolve({ status, body: parsed as T })
          })
        },
      )
      req.on('timeout', () => req.destroy(new Error(`the agent did not answer within ${opts.timeoutMs} ms`)))
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
          reject(
            new NoAgentError(
              `no agent answers on ${this.socket}; start one with 'fnagent start' (or pass --socket / --data-dir)`,
            ),
          )
        } else if (err.code === 'EACCES') {
          reject(
            new NoAgentError(
              `permission denied on ${this.socket}; join the socket's group or run as its owner`,
            ),
          )
        } else reject(err)
      })
      if (data) req.end(data)
      else req.end()
    })
  }

  async get<T = unknown>(path: string): Promise<T> {
    return (await this.call<T>('GET', path)).body
  }
}
