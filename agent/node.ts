import { existsSync, mkdirSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import si from 'systeminformation'
import { ActivationService } from './activations/index.ts'
import { type AgentApi, LocalApiServer } from './api/index.ts'
import {
  ApiKeyStore,
  apiKeyRoutes,
  createOpenWhiskApi,
  type OpenWhiskApiServer,
} from './api/openwhisk/index.ts'
import { Cluster, type LocalState, readClusterKey } from './cluster/index.ts'
import { CONFIG_FILE, type Config } from './config/index.ts'
import { createDocker } from './docker.ts'
import { errors } from './errors.ts'
import { FunctionService } from './functions/index.ts'
import { loadOrCreateIdentity } from './identity.ts'
import { Invoker } from './invoker/index.ts'
import type { Logger } from './log.ts'
import { Placement, type PlacementCluster } from './placement/index.ts'
import { Replication } from './replication/index.ts'
import { HybridClock } from './store/hlc.ts'
import { type ActivationRecord, type FunctionRecord, Store } from './store/index.ts'
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
  invoker!: Invoker
  cluster: Cluster | null = null
  placement!: Placement
  replication!: Replication
  #blobs: string[] = []
  apiKeys!: ApiKeyStore
  openwhiskApi: OpenWhiskApiServer | null = null

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
      {
        logger: log('functions'),
        store,
        clock: this.clock,
        nodeId: () => this.nodeId,
        onWrite: (record, code, waitReplicas) => {
          this.#noteBlob(record)
          return this.replication.functionWritten(record, code, waitReplicas)
        },
      },
      { namespace: config.namespace, maxCodeBytes: config.store.maxCodeBytes },
    )
    this.#blobs = await store.blobs.list(256)

    const docker = createDocker()
    const invoker = new Invoker(
      {
        logger: log('invoker'),
        docker,
        nodeId: this.nodeId,
        clock: this.clock,
        systemMemoryMiB: async () => (await si.mem()).total / 2 ** 20,
      },
      config.invoker,
    )
    this.invoker = invoker
    await invoker.start()
    this.#started.push({ name: 'invoker', stop: () => invoker.stop({ drainMs: config.drainMs }) })

    if (config.cluster.enabled) {
      const keyFile = config.cluster.keyFile ?? join(config.dataDir, 'cluster.key')
      const clusterKey = await readClusterKey(keyFile).catch((err: unknown) => {
        throw errors.invalidConfig(
          `${(err as Error).message}. Create one on the first node with 'fnagent cluster init', copy it to the others (--cluster-key FILE), or start alone with --no-cluster`,
          { cause: err },
        )
      })
      const cluster = new Cluster(
        {
          logger: log('cluster'),
          clock: this.clock,
          peerBook: store.peers,
          localState: () => this.#localState(),
        },
        { ...config.cluster, privateKey: identity.privateKey, clusterKey, agentVersion: AGENT_VERSION },
      )
      this.cluster = cluster
      await cluster.start()
      // A graceful stop announces the departure, so peers drop this node at once (it rejoins on restart).
      this.#started.push({
        name: 'cluster',
        stop: async () => {
          await cluster
            .leave()
            .catch((err: unknown) => this.#logger.warn({ err }, 'leave announcement failed'))
          await cluster.stop()
        },
      })
      invoker.onStateChange(() => cluster.publishNow())
    }

    const replication = new Replication(
      {
        logger: log('replication'),
        store,
        clock: this.clock,
        cluster: this.cluster,
        nodeId: () => this.nodeId,
      },
      config.replication,
    )
    this.replication = replication
    await replication.start()
    this.#started.push({ name: 'replication', stop: () => replication.stop() })
    // After the answer has gone out: the push (handoff bookkeeping, encoding, streams) is not the
    // caller's latency.
    const replicate = (record: ActivationRecord, holders?: readonly string[]) => {
      setImmediate(() => {
        replication.activationStored(record, undefined, holders).catch((err: unknown) => {
          this.#logger.warn(
            { err, activationId: record.activationId },
            'replicating the record failed; anti-entropy will repair it',
          )
        })
      })
    }

    this.placement = new Placement(
      {
        logger: log('placement'),
        store,
        clock: this.clock,
        nodeId: () => this.nodeId,
        invoker: {
          invoke: (req) => invoker.invoke(req),
          canAccept: (fn) => invoker.canAccept(fn),
          hasIdleWarm: (fn) => invoker.hasIdleWarm(fn),
          freeSlots: (fn) => invoker.freeSlots(fn),
          fitsWithoutEviction: (fn) => {
            const st = invoker.state()
            return (
              (st.prewarm[`${fn.kind}@${fn.limits.memory}`] ?? 0) > 0 || st.budgetFreeMiB >= fn.limits.memory
            )
          },
        },
        cluster: this.cluster as PlacementCluster | null,
        keepRecord: async (record, receivedBy) => {
          await store.activations.put(record)
          replicate(record, [receivedBy])
        },
        loadCode: (fn, signal) => replication.code(fn, signal),
        draining: () => this.#state !== 'running',
      },
      config.placement,
    )
    await this.placement.start()
    this.#started.push({ name: 'placement', stop: () => this.placement.stop() })

    this.activations = new ActivationService(
      {
        logger: log('activations'),
        store,
        clock: this.clock,
        functions: this.functions,
        nodeId: () => this.nodeId,
        runner: (req) => this.placement.run(req),
        // A record that came back from a live peer that ran it is pushed by that peer.
        onRecord: (record) => {
          if (record.node === this.nodeId || this.cluster?.member(record.node)?.state !== 'alive')
            replicate(record)
        },
        loadCode: (fn, signal) => replication.code(fn, signal),
        fetchRecord: (id, signal) => replication.fetchActivation(id, signal),
        listCluster: (q) => replication.listCluster(q),
      },
      { maxParamsBytes: config.invoker.maxPayloadBytes },
    )
    this.#started.push({ name: 'activations', stop: () => this.activations.drain(config.drainMs) })

    this.apiKeys = new ApiKeyStore(store.db)
    const { functions, activations } = this
    const owApi = await createOpenWhiskApi(
      { logger: log('openwhisk'), functions, activations, store, keys: this.apiKeys },
      config,
    )
    if (owApi) {
      await owApi.start()
      this.openwhiskApi = owApi
      this.#started.push({ name: 'openwhisk-api', stop: () => owApi.stop() })
    }

    const api = new LocalApiServer(
      { logger: log('api'), api: this.#api() },
      {
        socket: config.socket,
        maxBodyBytes: config.localApi.maxBodyBytes,
        maxPayloadBytes: config.invoker.maxPayloadBytes,
        socketGroup: config.localApi.socketGroup,
      },
    )
    await api.start()
    this.#started.push({ name: 'api', stop: () => api.stop() })
  }

  /** What this node gossips each heartbeat. */
  #localState(): LocalState {
    const st = this.invoker.state()
    return {
      capacity: {
        budgetMiB: st.budgetMiB,
        budgetFreeMiB: st.budgetFreeMiB,
        freeSlots: st.freeSlots,
        inflight: st.inflight + (this.activations?.inflight ?? 0),
      },
      warm: st.warm,
      prewarm: st.prewarm,
      blobs: this.#blobs,
    }
  }

  #noteBlob(record: FunctionRecord): void {
    if (!record.codeHash || this.#blobs.includes(record.codeHash)) return
    this.#blobs = [record.codeHash, ...this.#blobs].slice(0, 256)
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
      auth: apiKeyRoutes(this.apiKeys, () => this.openwhiskApi),
      activations: {
        list: (q) => this.activations.list(q),
        get: (id) => this.activations.get(id),
      },
      peers: async () => this.#requireCluster().view(),
      join: async (body) => {
        const peer = (body as { peer?: unknown })?.peer
        if (typeof peer !== 'string' || peer.length === 0 || peer.length > 1024) {
          throw errors.invalidArgument(`join needs {"peer": "<multiaddr or host:port>"}`)
        }
        const joined = await this.#requireCluster().join(peer, AbortSignal.timeout(15_000))
        return { joined: joined.peerId }
      },
      leave: async () => {
        await this.#requireCluster().leave()
        return { left: true }
      },
    }
  }

  #requireCluster(): Cluster {
    if (!this.cluster)
      throw errors.unavailable('this agent runs alone (--no-cluster); restart it with a cluster key')
    return this.cluster
  }

  async status() {
    const view = this.cluster?.view() ?? []
    const count = (state: string) => view.filter((m) => m.state === state).length
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
      invoker: this.invoker.state(),
      cluster: this.cluster
        ? {
            addresses: this.cluster.addresses(),
            members: view.length,
            alive: count('alive'),
            suspect: count('suspect'),
            dead: count('dead'),
            left: count('left'),
            gossip: this.cluster.stats(),
          }
        : null,
      replication: this.replication.status(),
      memory: memoryMiB(),
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

/** The process's memory, MiB (`process.memoryUsage()`): what the idle bench and an operator watch. */
function memoryMiB() {
  const m = process.memoryUsage()
  const mib = (n: number) => Math.round((n / 2 ** 20) * 10) / 10
  return {
    rss: mib(m.rss),
    heapTotal: mib(m.heapTotal),
    heapUsed: mib(m.heapUsed),
    external: mib(m.external),
    arrayBuffers: mib(m.arrayBuffers),
  }
}

async function writeDefaultConfig(dataDir: string): Promise<void> {
  const file = join(dataDir, CONFIG_FILE)
  if (existsSync(file)) return
  const starter = { logLevel: 'info', cluster: { listen: ['/ip4/0.0.0.0/tcp/7700'], bootstrapPeers: [] } }
  await writeFile(file, `${JSON.stringify(starter, null, 2)}\n`, { mode: 0o600, flag: 'wx' }).catch(() => {})
}
