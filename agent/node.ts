import { existsSync, mkdirSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ActivationService, type Runner } from './activations/index.ts'
import { type AgentApi, LocalApiServer } from './api/index.ts'
import { CONFIG_FILE, type Config } from './config/index.ts'
import { errors } from './errors.ts'
import { FunctionService } from './functions/index.ts'
import { loadOrCreateIdentity } from './identity.ts'
import type { Logger } from './log.ts'
import { HybridClock } from './store/hlc.ts'
import { Store } from './store/index.ts'
import { AGENT_VERSION } from './version.ts'

export interface AgentComponents {
  logger: Logger
}

interface Stoppable {
  name: string
  stop: () => Promise<void>
}

/**
 * The composition root: builds the services in dependency order, starts them, and stops them in
 * reverse. A failed start stops what already started. start/stop are safe to call twice.
 */
export class Agent {
  readonly config: Config
  readonly #logger: Logger
  readonly clock = new HybridClock()
  #started: Stoppable[] = []
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new'
  #startedAt = 0
  nodeId = ''
  store!: Store
  functions!: FunctionService
  activations!: ActivationService

  constructor(components: AgentComponents, config: Config) {
    this.#logger = components.logger
    this.config = config
  }

  get state() {
    return this.#state
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') return
    this.#state = 'starting'
    try {
      await this.#start()
      this.#state = 'running'
      this.#startedAt = Date.now()
      this.#logger.info(
        { nodeId: this.nodeId, version: AGENT_VERSION, socket: this.config.socket },
        'agent started',
      )
    } catch (err) {
      await this.#stopAll()
      this.#state = 'stopped'
      throw err
    }
  }

  async #start(): Promise<void> {
    const { config } = this
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
    const store = await Store.open(config.dataDir)
    this.store = store
    this.#started.push({ name: 'store', stop: () => store.close() })
    await writeDefaultConfig(config.dataDir)
    const identity = await loadOrCreateIdentity(config.dataDir)
    this.nodeId = identity.peerId
    const log = (component: string) => this.#logger.child({ component })

    this.functions = new FunctionService(
      { logger: log('functions'), store, clock: this.clock, nodeId: () => this.nodeId },
      { namespace: config.namespace, maxCodeBytes: config.store.maxCodeBytes },
    )
    this.activations = new ActivationService(
      {
        logger: log('activations'),
        store,
        clock: this.clock,
        functions: this.functions,
        nodeId: () => this.nodeId,
        runner: this.#runner(),
      },
      { maxParamsBytes: config.invoker.maxPayloadBytes },
    )
    this.#started.push({ name: 'activations', stop: () => this.activations.drain(config.drainMs) })

    const api = new LocalApiServer(
      { logger: log('api'), api: this.#api() },
      { socket: config.socket, maxBodyBytes: config.api.maxBodyBytes, socketGroup: config.api.socketGroup },
    )
    await api.start()
    this.#started.push({ name: 'api', stop: () => api.stop() })
  }

  #runner(): Runner {
    return async () => {
      throw errors.runtimeMissing('this agent has no invoker yet')
    }
  }

  #api(): AgentApi {
    return {
      status: async () => this.status(),
      config: () => this.config,
      functions: {
        list: () => this.functions.list(),
        get: (name) => this.functions.get(name),
        put: (name, body) => this.functions.put(name, body),
        remove: (name) => this.functions.remove(name),
      },
      invoke: (name, body) => this.activations.invoke(name, body),
      activations: {
        list: (q) => this.activations.list(q),
        get: (id) => this.activations.get(id),
      },
      peers: async () => [],
      join: async () => {
        throw errors.unavailable('clustering is not available in this build')
      },
      leave: async () => {
        throw errors.unavailable('clustering is not available in this build')
      },
    }
  }

  async status() {
    return {
      nodeId: this.nodeId,
      version: AGENT_VERSION,
      state: this.#state,
      uptimeMs: this.#startedAt ? Date.now() - this.#startedAt : 0,
      dataDir: this.config.dataDir,
      socket: this.config.socket,
      namespace: this.config.namespace,
      functions: (await this.functions.list()).length,
      activations: { stored: await this.store.activations.count(), inflight: this.activations.inflight },
    }
  }

  /** Stops taking work, drains in-flight activations within `drainMs`, then stops every service in reverse. */
  async stop(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped' || this.#state === 'new') return
    this.#state = 'stopping'
    await this.#stopAll()
    this.#state = 'stopped'
    this.#logger.info({ nodeId: this.nodeId }, 'agent stopped')
  }

  async #stopAll(): Promise<void> {
    // Drain first (activations), then the rest in reverse order of start.
    const order = [...this.#started].reverse()
    const activations = order.find((s) => s.name === 'activations')
    const rest = order.filter((s) => s !== activations)
    for (const s of activations ? [activations, ...rest] : rest) {
      try {
        await s.stop()
      } catch (err) {
        this.#logger.error({ err, service: s.name }, 'stop failed')
      }
    }
    this.#started = []
  }
}

async function writeDefaultConfig(dataDir: string): Promise<void> {
  const file = join(dataDir, CONFIG_FILE)
  if (existsSync(file)) return
  const starter = { logLevel: 'info', cluster: { listen: ['/ip4/0.0.0.0/tcp/7700'], bootstrapPeers: [] } }
  await writeFile(file, `${JSON.stringify(starter, null, 2)}\n`, { mode: 0o600, flag: 'wx' }).catch(() => {})
}
