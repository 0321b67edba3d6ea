import type { RequestListener, Server } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FunctionsBridge } from '../../invoker/index.ts'
import { openEndpoint } from '../../invoker/index.ts'
import type { Logger } from '../../log.ts'

/** What the endpoint for function containers needs of the invoker. */
export interface BridgeEndpointComponents {
  logger: Logger
  /** The functions' bridge, once the invoker has started. */
  bridge: () => FunctionsBridge | null
  /** Gives every activation this URL as `__OW_API_HOST` (null: none). */
  useApiHost: (url: string | null) => void
  /** Host isolation is on: the endpoint needs its one iptables opening. */
  isolateHost: boolean
  /** Opens the endpoint in the isolation rules; resolves with what closes it (default: iptables). */
  open?: (bridge: string, address: string, port: number) => Promise<() => Promise<void>>
}

/**
 * The OpenWhisk API for this node's function containers: the same handler as the main listener,
 * on the host's address on the functions' bridge (`openwhiskApi.bridgePort`), the one place the
 * host-isolation rules let a container in. Plain HTTP: the bridge never leaves this host. Other
 * host ports, the unix socket of the local API and the cluster port stay closed to containers
 * (docs/composition.md#actions-that-call-the-platform).
 */
export class BridgeEndpoint {
  readonly #c: BridgeEndpointComponents
  readonly #port: number
  #server: Server | null = null
  #close: (() => Promise<void>) | null = null

  constructor(components: BridgeEndpointComponents, port: number) {
    this.#c = components
    this.#port = port
  }

  get url(): string | null {
    const a = this.#server?.address() as AddressInfo | null | undefined
    return a ? `http://${a.address}:${a.port}` : null
  }

  /** Listens and opens the rule; on any failure logs why and leaves actions without `__OW_API_HOST`. */
  async start(handler: RequestListener, opts: { keepAliveTimeoutMs: number }): Promise<void> {
    const b = this.#c.bridge()
    if (!b?.gateway) {
      this.#c.logger.warn(
        { bridge: b?.bridge },
        'no address on the functions bridge: actions get no __OW_API_HOST',
      )
      return
    }
    const server = createServer({ keepAliveTimeout: opts.keepAliveTimeoutMs }, handler)
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(this.#port, b.gateway!, () => resolve())
      })
      this.#server = server
      const { port } = server.address() as AddressInfo
      if (this.#c.isolateHost) this.#close = await (this.#c.open ?? openEndpoint)(b.bridge, b.gateway, port)
    } catch (err) {
      this.#c.logger.warn(
        { err, bridge: b.bridge, address: b.gateway },
        'cannot serve the OpenWhisk API on the functions bridge: actions get no __OW_API_HOST',
      )
      await this.stop()
      return
    }
    this.#c.useApiHost(this.url)
    this.#c.logger.info(
      { url: this.url, bridge: b.bridge },
      'OpenWhisk API listening for function containers',
    )
  }

  async stop(): Promise<void> {
    this.#c.useApiHost(null)
    const close = this.#close
    this.#close = null
    await close?.()
    const server = this.#server
    this.#server = null
    if (!server) return
    server.closeIdleConnections()
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      setTimeout(() => server.closeAllConnections(), 2000).unref()
    })
  }
}
