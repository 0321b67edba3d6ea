import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseListen } from '../api/openwhisk/options.ts'
import { errors } from '../errors.ts'
import type { Startable } from '../lifecycle.ts'
import type { Logger } from '../log.ts'
import type { AgentMetrics } from './registry.ts'

// As the local API: not `import … from 'node:http'` (its ESM namespace loads undici).
const { createServer } = process.getBuiltinModule('node:http')

/** `/metrics` alone on its own address (`metrics.listen`), for a node whose OpenWhisk API is off. */
export class MetricsServer implements Startable {
  readonly #c: { logger: Logger; metrics: AgentMetrics }
  readonly #listen: string
  #server: Server | null = null

  constructor(components: { logger: Logger; metrics: AgentMetrics }, init: { listen: string }) {
    this.#c = components
    this.#listen = init.listen
  }

  get url(): string | null {
    const a = this.#server?.address() as AddressInfo | null | undefined
    return a ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : null
  }

  async start(): Promise<void> {
    if (this.#server) return
    const { host, port } = parseListen(this.#listen)
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n')
        return
      }
      this.#c.metrics
        .scrape()
        .then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body))
        .catch((err: unknown) => {
          this.#c.logger.error({ err }, 'metrics scrape failed')
          res.writeHead(500).end()
        })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? errors.invalidConfig(`metrics.listen ${this.#listen}: the address is in use`, { cause: err })
            : err,
        ),
      )
      server.listen(port, host, () => resolve())
    })
    this.#server = server
    this.#c.logger.info({ url: this.url }, 'metrics listening')
  }

  async stop(): Promise<void> {
    const server = this.#server
    if (!server) return
    this.#server = null
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
