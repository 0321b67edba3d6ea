import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { errors } from '../../errors.ts'
import type { Startable } from '../../lifecycle.ts'
import { authenticate, basicCredentials } from './auth.ts'
import { BridgeEndpoint } from './bridge.ts'
import type { ApiContext, OpenWhiskApiComponents, OpenWhiskApiInit, Reply } from './components.ts'
import { parseListen } from './options.ts'
import { RateLimiter } from './ratelimit.ts'
import { MESSAGES, OwError, sendJson, sendOwError, toOwError, transactionId } from './reply.ts'
import { API_INFO, handleRest, platformInfo } from './rest.ts'
import { RecordWaiter } from './waiter.ts'
import { handleWeb } from './web.ts'
import { webhookRoute } from './webhook.ts'

/**
 * The OpenWhisk REST API (`/api/v1`, basic auth with API keys) and web actions (`/api/v1/web`)
 * on an optional TCP listener, HTTPS when a certificate is configured.
 */
export class OpenWhiskApiServer implements Startable {
  readonly #c: ApiContext
  readonly #init: OpenWhiskApiInit
  readonly #limiter: RateLimiter
  #server: Server | null = null
  readonly #bridge: BridgeEndpoint | null

  constructor(components: OpenWhiskApiComponents, init: OpenWhiskApiInit) {
    this.#c = { ...components, waiter: new RecordWaiter(components.store.db, components.store.activations) }
    this.#init = init
    this.#limiter = new RateLimiter(init.rateLimit)
    const { functionsBridge } = components
    this.#bridge =
      functionsBridge && init.bridgePort !== null
        ? new BridgeEndpoint({ ...functionsBridge, logger: components.logger }, init.bridgePort)
        : null
  }

  /** The endpoint function containers call (`__OW_API_HOST`), null when there is none. */
  get bridgeUrl(): string | null {
    return this.#bridge?.url ?? null
  }

  /** The bound address (port 0 resolves to the real port), or null when not listening. */
  get address(): { host: string; port: number; url: string } | null {
    const a = this.#server?.address() as AddressInfo | null | undefined
    if (!a) return null
    const scheme = this.#init.tlsCert ? 'https' : 'http'
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address
    return { host: a.address, port: a.port, url: `${scheme}://${host}:${a.port}` }
  }

  async start(): Promise<void> {
    if (this.#server || !this.#init.listen) return
    const { host, port } = parseListen(this.#init.listen)
    const handler = (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res)
    const opts = {
      keepAliveTimeout: this.#init.keepAliveTimeoutMs,
      // How often slow clients are checked against headersTimeout/requestTimeout (Node's default: 30 s).
      connectionsCheckingInterval: 1000,
    }
    const server = this.#init.tlsCert
      ? createTlsServer(
          { ...opts, cert: readTls(this.#init.tlsCert), key: readTls(this.#init.tlsKey!) },
          handler,
        )
      : createServer(opts, handler)
    server.headersTimeout = this.#init.headersTimeoutMs
    server.requestTimeout = this.#init.requestTimeoutMs
    server.maxHeadersCount = 200
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? errors.invalidConfig(`openwhiskApi.listen ${this.#init.listen}: the address is in use`, {
                cause: err,
              })
            : err,
        ),
      )
      server.listen(port, host, () => resolve())
    })
    this.#server = server
    this.#c.waiter.start()
    this.#c.logger.info({ url: this.address?.url }, 'OpenWhisk API listening')
    await this.#bridge?.start(handler, { keepAliveTimeoutMs: this.#init.keepAliveTimeoutMs })
  }

  async stop(): Promise<void> {
    const server = this.#server
    if (!server) return
    this.#server = null
    await this.#bridge?.stop()
    this.#c.waiter.stop()
    server.closeIdleConnections()
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      setTimeout(() => server.closeAllConnections(), 2000).unref()
    })
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const txid = transactionId()
    const started = performance.now()
    res.setHeader('x-request-id', txid)
    this.#route(req)
      .then((reply) => send(res, reply))
      .catch((err: unknown) => {
        const { error, bug } = toOwError(err)
        if (bug) this.#c.logger.error({ err, txid, method: req.method, url: req.url }, 'API request failed')
        sendOwError(res, error, txid)
      })
      .finally(() => {
        const ms = +(performance.now() - started).toFixed(2)
        this.#c.logger.debug({ txid, method: req.method, url: req.url, status: res.statusCode, ms }, 'ow api')
      })
  }

  async #route(req: IncomingMessage): Promise<Reply> {
    const url = req.url ?? '/'
    const qi = url.indexOf('?')
    const path = (qi < 0 ? url : url.slice(0, qi)).replace(/\/+$/, '') || '/'
    const rawQuery = qi < 0 ? '' : url.slice(qi + 1)
    if (path === '/' || path === '/api/v1') {
      if (req.method !== 'GET') throw owMethod()
      return { status: 200, body: path === '/' ? platformInfo(this.#init) : API_INFO }
    }
    if (path === '/metrics' && this.#c.metrics) {
      if (req.method !== 'GET') throw owMethod()
      const { contentType, body } = await this.#c.metrics.scrape()
      return { status: 200, body: Buffer.from(body), headers: { 'content-type': contentType } }
    }
    if (path.startsWith('/api/v1/web/')) {
      const client = `web:${req.socket.remoteAddress ?? ''}`
      this.#throttle(client)
      return handleWeb(this.#c, this.#init, req, path, rawQuery, () => authenticate(req, this.#c.keys))
    }
    if (path.startsWith('/api/v1/webhooks/')) {
      this.#throttle(`webhook:${req.socket.remoteAddress ?? ''}`)
      return webhookRoute(this.#c, this.#init, req, path)
    }
    // Authenticate before reading anything else: a bad key touches nothing.
    const subject = await authenticate(req, this.#c.keys)
    if (!subject) {
      this.#throttle(`anon:${req.socket.remoteAddress ?? ''}`)
      throw new OwError(401, MESSAGES.unauthorized, { 'www-authenticate': 'Basic realm="fnagent"' })
    }
    this.#throttle(subject.uuid)
    if (this.#c.dashboard && (path === '/dashboard' || path.startsWith('/dashboard/'))) {
      if (req.method !== 'GET') throw owMethod()
      return this.#c.dashboard.reply(path)
    }
    const auth = basicCredentials(req)!
    return handleRest(this.#c, this.#init, req, path, new URLSearchParams(rawQuery), { auth, subject })
  }

  #throttle(key: string): void {
    const over = this.#limiter.take(key)
    if (over)
      throw new OwError(429, MESSAGES.tooManyRequests(over.count, over.allowed), { 'retry-after': '1' })
  }
}

function owMethod(): OwError {
  return new OwError(405, `${MESSAGES.methodNotAllowed}GET`, { allow: 'GET' })
}

function send(res: ServerResponse, reply: Reply): void {
  if (Buffer.isBuffer(reply.body) || reply.body === undefined) {
    const body = (reply.body as Buffer | undefined) ?? Buffer.alloc(0)
    res.writeHead(reply.status, { 'content-length': String(body.length), ...reply.headers })
    res.end(res.req.method === 'HEAD' ? undefined : body)
    return
  }
  sendJson(res, reply.status, reply.body, reply.headers)
}

function readTls(file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    throw errors.invalidConfig(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err,
    })
  }
}
