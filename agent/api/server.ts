import { chmodSync, chownSync, existsSync, readFileSync, unlinkSync } from 'node:fs'
import type { Server } from 'node:http'
import { connect } from 'node:net'
import { errors, toFnError } from '../errors.ts'
import type { Startable } from '../lifecycle.ts'
import type { Logger } from '../log.ts'
import { sendError, sendJson } from './http.ts'
import { type AgentApi, buildRouter } from './routes.ts'

// Not `import … from 'node:http'`: on Node 24 building that module's ESM namespace reads its
// `WebSocket` getter, which loads undici (about 13 MiB of RSS the daemon never uses).
const { createServer } = process.getBuiltinModule('node:http')

export interface LocalApiComponents {
  logger: Logger
  api: AgentApi
}

export interface LocalApiInit {
  socket: string
  /** Largest function PUT body, bytes. */
  maxBodyBytes: number
  /** Largest body of every other request (invocations, keys, joins), bytes. */
  maxPayloadBytes: number
  /** Group owning the socket (0660); default the process's group. */
  socketGroup?: string
}

/** The local API: HTTP/1.1 JSON on a unix socket, mode 0660. */
export class LocalApiServer implements Startable {
  readonly #c: LocalApiComponents
  readonly #init: LocalApiInit
  #server: Server | null = null

  constructor(components: LocalApiComponents, init: LocalApiInit) {
    this.#c = components
    this.#init = init
  }

  async start(): Promise<void> {
    if (this.#server) return
    await removeStaleSocket(this.#init.socket)
    const handle = buildRouter(this.#c.api, this.#init)
    const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
      const started = performance.now()
      Promise.resolve()
        .then(() => handle(req, res))
        .then(({ status, body }) => {
          if (!res.headersSent) sendJson(res, status, body)
        })
        .catch((err: unknown) => {
          const e = toFnError(err)
          if (!e.expose) this.#c.logger.error({ err, method: req.method, url: req.url }, 'API request failed')
          sendError(res, e)
        })
        .finally(() => {
          this.#c.logger.debug(
            {
              method: req.method,
              url: req.url,
              status: res.statusCode,
              ms: +(performance.now() - started).toFixed(2),
            },
            'api',
          )
        })
    })
    server.headersTimeout = 30_000
    server.requestTimeout = 0
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#init.socket, () => {
        server.off('error', reject)
        resolve()
      })
    })
    chmodSync(this.#init.socket, 0o660)
    // The socket is created with this process's group already: no chown then (the systemd unit's
    // syscall filter refuses chown to the unprivileged agent even when it would change nothing).
    const gid = this.#init.socketGroup ? groupId(this.#init.socketGroup) : undefined
    if (gid !== undefined && gid !== process.getgid?.())
      chownSync(this.#init.socket, process.getuid?.() ?? 0, gid)
    this.#server = server
    this.#c.logger.info({ socket: this.#init.socket }, 'local API listening')
  }

  async stop(): Promise<void> {
    const server = this.#server
    if (!server) return
    this.#server = null
    server.closeIdleConnections()
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      setTimeout(() => {
        server.closeAllConnections()
      }, 2000).unref()
    })
  }
}

function groupId(name: string): number {
  if (/^\d+$/.test(name)) return Number(name)
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === name)
  if (!line) throw errors.invalidConfig(`localApi.socketGroup: group '${name}' does not exist`)
  return Number(line.split(':')[2])
}

/** A socket file left by a crashed agent is removed; one that answers belongs to a live agent. */
async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect(path)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
  if (alive) throw errors.dataDirLocked(`another agent answers on ${path}; stop it or pick another --socket`)
  unlinkSync(path)
}
