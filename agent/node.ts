import { existsSync, mkdirSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import si from 'systeminformation'
import { ActivationService } from './activations/index.ts'
import { NodeAdvert } from './advert.ts'
import { type AgentApi, LocalApiServer } from './api/index.ts'
import { ApiKeyStore, apiKeyRoutes, createOpenWhiskApi } from './api/openwhisk/index.ts'
import { Cluster, readClusterKey } from './cluster/index.ts'
import { CONFIG_FILE, type Config } from './config/index.ts'
import { Dashboard, dashboardView } from './dashboard/index.ts'
import { createDocker } from './docker.ts'
import { errors } from './errors.ts'
import { Faults } from './faults.ts'
import { FunctionService } from './functions/index.ts'
import { loadOrCreateIdentity } from './identity.ts'
import { Invoker } from './invoker/index.ts'
import { Lifecycle, type ServiceState, type Startable } from './lifecycle.ts'
import type { Logger } from './log.ts'
import { ActivationLogs } from './logs/index.ts'
import { AgentMetrics, ClusterTop, MetricsServer } from './metrics/index.ts'
import { Placement } from './placement/index.ts'
import { Replication } from './replication/index.ts'
import { HybridClock } from './store/hlc.ts'
import { type ActivationRecord, Store } from './store/index.ts'
import { AGENT_VERSION } from './version.ts'

export interface AgentComponents {
  logger: Logger
}

/**
 * The composition root. `Agent.init` opens the store, loads the node identity (so the node id is
 * known before anything else is built), builds every service in dependency order and returns the
 * finished agent; `start` starts the services in that order, `stop` stops them in reverse, the
 * drain of in-flight activations first (docs/architecture.md#services-and-their-lifecycle).
 * start/stop are safe to call twice; nothing here touches the process (agent/main.ts does).
 */
export class Agent implements Startable {
  readonly config: Config
  readonly nodeId: string
  readonly #logger: Logger
  readonly #lifecycle: Lifecycle
  readonly #status: () => Promise<AgentStatus>

  /** Builds a finished agent from its config; nothing listens or runs until `start`. */
  static async init(components: AgentComponents, config: Config): Promise<Agent> {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
    const store = await Store.open(config.dataDir)
    try {
      await writeDefaultConfig(config.dataDir)
      const { nodeId, lifecycle, status } = await build(components.logger, config, store)
      return new Agent(components.logger, config, nodeId, lifecycle, status)
    } catch (err) {
      await store.close()
      throw err
    }
  }

  private constructor(
    logger: Logger,
    config: Config,
    nodeId: string,
    lifecycle: Lifecycle,
    status: () => Promise<AgentStatus>,
  ) {
    this.#logger = logger
    this.config = config
    this.nodeId = nodeId
    this.#lifecycle = lifecycle
    this.#status = status
  }

  get state(): ServiceState {
    return this.#lifecycle.state
  }

  async start(): Promise<void> {
    if (this.state !== 'new') return
    await this.#lifecycle.start()
    this.#logger.info(
      { nodeId: this.nodeId, version: AGENT_VERSION, socket: this.config.socket },
      'agent started',
    )
  }

  /** Stops taking work, drains in-flight activations within `drainMs`, then stops every service in reverse. */
  async stop(): Promise<void> {
    if (this.state !== 'running') return
    await this.#lifecycle.stop()
    this.#logger.info({ nodeId: this.nodeId }, 'agent stopped')
  }

  /** What `fnagent status` shows. */
  status(): Promise<AgentStatus> {
    return this.#status()
  }
}

export type AgentStatus = Awaited<ReturnType<typeof statusOf>>

/**
 * Builds every service of one agent in dependency order, each added to the lifecycle as it is
 * built (so each starts after what it uses, and stops before it).
 */
async function build(logger: Logger, config: Config, store: Store) {
  const log = (component: string) => logger.child({ component })
  const { privateKey, peerId: nodeId } = await loadOrCreateIdentity(config.dataDir)
  const faults = new Faults({ logger: log('faults') }, config.faults)
  const clock = new HybridClock({ now: faults.now, maxDriftMs: config.clock.maxDriftMs })
  const lifecycle = new Lifecycle(logger)
  lifecycle.add('faults', { start: () => faults.start(), stop: async () => faults.stop() })
  lifecycle.add('store', { start: async () => {}, stop: () => store.close() })

  const invoker = new Invoker(
    {
      logger: log('invoker'),
      docker: createDocker(),
      nodeId,
      clock,
      systemMemoryMiB: async () => (await si.mem()).total / 2 ** 20,
    },
    config.invoker,
  )
  // Its stop drains, then removes every container (each removal bounded by the engine timeout).
  lifecycle.add(
    'invoker',
    { start: () => invoker.start(), stop: () => invoker.stop({ drainMs: config.drainMs }) },
    { stopTimeoutMs: config.drainMs + 2 * config.invoker.dockerTimeoutMs + 5_000 },
  )

  const advert = new NodeAdvert(invoker, () => activations.inflight, await store.blobs.list(256))
  const cluster = config.cluster.enabled
    ? new Cluster(
        {
          logger: log('cluster'),
          clock,
          peerBook: store.peers,
          localState: () => advert.localState(),
          ...(config.faults.enabled ? { denyPeer: (peerId: string) => faults.isCut(peerId) } : {}),
        },
        {
          ...config.cluster,
          privateKey,
          clusterKey: await clusterKey(config),
          agentVersion: AGENT_VERSION,
        },
      )
    : null
  if (cluster) {
    invoker.onStateChange(() => cluster.publishNow())
    faults.onCut((cut) => {
      for (const peerId of cut) void cluster.hangUp(peerId).catch(() => {})
    })
    // A graceful stop announces the departure, so peers drop this node at once (it rejoins on restart).
    lifecycle.add('cluster', {
      start: () => cluster.start(),
      stop: async () => {
        await cluster.leave().catch((err: unknown) => logger.warn({ err }, 'leave announcement failed'))
        await cluster.stop()
      },
    })
  }

  const replication = lifecycle.add(
    'replication',
    new Replication({ logger: log('replication'), store, clock, cluster, nodeId }, config.replication),
  )
  // After the answer has gone out: the push (handoff bookkeeping, encoding, streams) is not the
  // caller's latency.
  const replicate = (record: ActivationRecord, holders?: readonly string[]) => {
    setImmediate(() => {
      replication.activationStored(record, undefined, holders).catch((err: unknown) => {
        logger.warn(
          { err, activationId: record.activationId },
          'replicating the record failed; anti-entropy will repair it',
        )
      })
    })
  }
  const loadCode = (fn: Parameters<Replication['code']>[0], signal: AbortSignal) =>
    replication.code(fn, signal)

  const metrics = config.metrics.enabled
    ? new AgentMetrics(
        {
          invoker: () => invoker.state(),
          ...(cluster ? { members: () => cluster.view(), gossip: () => cluster.stats() } : {}),
          replication: () => replication.status(),
          dbDir: join(config.dataDir, 'db'),
        },
        config.metrics,
      )
    : null
  if (metrics) invoker.onActivation((ran) => metrics.activation(ran))

  const functions = new FunctionService(
    {
      logger: log('functions'),
      store,
      clock,
      nodeId,
      onWrite: (record, code, waitReplicas) => {
        advert.noteWrite(record)
        return replication.functionWritten(record, code, waitReplicas)
      },
    },
    { namespace: config.namespace, maxCodeBytes: config.store.maxCodeBytes },
  )

  const placement = lifecycle.add(
    'placement',
    new Placement(
      {
        logger: log('placement'),
        store,
        clock,
        nodeId,
        invoker,
        cluster,
        keepRecord: async (record, receivedBy) => {
          await store.activations.put(record)
          replicate(record, [receivedBy])
        },
        loadCode,
        draining: () => lifecycle.state !== 'running',
        ...(metrics ? { observer: metrics.placement } : {}),
      },
      config.placement,
    ),
  )

  // Serves its poll protocol on the cluster, so it starts after it.
  const logTail = lifecycle.add(
    'log-tail',
    new ActivationLogs({ logger: log('logs'), nodeId, cluster }, config.logTail),
  )
  invoker.onActivation((ran) => logTail.ran(ran.record))
  const top = lifecycle.add(
    'top',
    new ClusterTop({ logger: log('top'), nodeId, cluster, invoker: () => invoker.state() }, config.metrics),
  )
  invoker.onActivation((ran) => top.ran(ran.record))

  const activations: ActivationService = new ActivationService(
    {
      logger: log('activations'),
      store,
      clock,
      functions,
      nodeId,
      runner: metrics
        ? async (req) => {
            const started = performance.now()
            const record = await placement.run(req)
            metrics.invocation(record, performance.now() - started)
            return record
          }
        : (req) => placement.run(req),
      // A record that came back from a live peer that ran it is pushed by that peer; this node's
      // digest still has to cover the copy it stored.
      onRecord: (record) => {
        if (record.node === nodeId || cluster?.member(record.node)?.state !== 'alive') replicate(record)
        else replication.activationChanged(record.activationId)
      },
      loadCode,
      fetchRecord: (id, signal) => replication.fetchActivation(id, signal),
      listCluster: (q) => replication.listCluster(q),
      onMarker: (marker) => replication.activationStored(marker, 1),
      memberState: (peerId) => cluster?.member(peerId)?.state,
    },
    { maxParamsBytes: config.invoker.maxPayloadBytes, drainMs: config.drainMs },
  )

  const apiKeys = new ApiKeyStore(store.db)
  const dashboard =
    config.openwhiskApi.listen && config.dashboard.enabled
      ? new Dashboard(() =>
          dashboardView({
            nodeId,
            top: (signal) => top.view(signal),
            recent: (q) => activations.list({ ...q, ...(cluster ? { cluster: true } : {}) }),
            limit: config.dashboard.recent,
          }),
        )
      : null
  const openwhiskApi = await createOpenWhiskApi(
    {
      logger: log('openwhisk'),
      functions,
      activations,
      store,
      keys: apiKeys,
      ...(metrics ? { metrics } : {}),
      ...(dashboard ? { dashboard } : {}),
    },
    config,
  )
  if (openwhiskApi) lifecycle.add('openwhisk-api', openwhiskApi)
  if (metrics && config.metrics.listen)
    lifecycle.add(
      'metrics',
      new MetricsServer({ logger: log('metrics'), metrics }, { listen: config.metrics.listen }),
    )

  const status = () =>
    statusOf({ config, nodeId, lifecycle, store, functions, activations, invoker, cluster, replication })
  const api: AgentApi = {
    status,
    digests: () => replication.digests(),
    config: () => config,
    functions: {
      list: () => functions.list(),
      get: (name) => functions.get(name),
      put: (name, body) => functions.put(name, body),
      remove: async (name) => (await functions.remove(name)).tombstone,
    },
    invoke: (name, body) => activations.invoke(name, body),
    auth: apiKeyRoutes(apiKeys, () => openwhiskApi),
    activations: {
      list: (q) => activations.list(q),
      get: (id) => activations.get(id),
    },
    peers: async () => requireCluster(cluster).view(),
    join: async (body) => {
      const peer = (body as { peer?: unknown })?.peer
      if (typeof peer !== 'string' || peer.length === 0 || peer.length > 1024) {
        throw errors.invalidArgument(`join needs {"peer": "<multiaddr or host:port>"}`)
      }
      const joined = await requireCluster(cluster).join(peer, AbortSignal.timeout(15_000))
      return { joined: joined.peerId }
    },
    leave: async () => {
      await requireCluster(cluster).leave()
      return { left: true }
    },
    followLogs: (q, signal, emit) => logTail.follow(q, signal, emit),
    top: () => top.view(AbortSignal.timeout(2000)),
  }
  lifecycle.add(
    'local-api',
    new LocalApiServer(
      { logger: log('api'), api },
      {
        socket: config.socket,
        maxBodyBytes: config.localApi.maxBodyBytes,
        maxPayloadBytes: config.invoker.maxPayloadBytes,
        socketGroup: config.localApi.socketGroup,
      },
    ),
  )
  // Added last, so stopped first: its stop is the drain of in-flight activations.
  lifecycle.add('activations', activations, { stopTimeoutMs: config.drainMs + 10_000 })
  return { nodeId, lifecycle, status }
}

async function clusterKey(config: Config): Promise<Uint8Array> {
  const keyFile = config.cluster.keyFile ?? join(config.dataDir, 'cluster.key')
  return readClusterKey(keyFile).catch((err: unknown) => {
    throw errors.invalidConfig(
      `${(err as Error).message}. Create one on the first node with 'fnagent cluster init', copy it to the others (--cluster-key FILE), or start alone with --no-cluster`,
      { cause: err },
    )
  })
}

function requireCluster(cluster: Cluster | null): Cluster {
  if (!cluster)
    throw errors.unavailable('this agent runs alone (--no-cluster); restart it with a cluster key')
  return cluster
}

async function statusOf(a: {
  config: Config
  nodeId: string
  lifecycle: Lifecycle
  store: Store
  functions: FunctionService
  activations: ActivationService
  invoker: Invoker
  cluster: Cluster | null
  replication: Replication
}) {
  const view = a.cluster?.view() ?? []
  const count = (state: string) => view.filter((m) => m.state === state).length
  return {
    nodeId: a.nodeId,
    version: AGENT_VERSION,
    state: a.lifecycle.state,
    uptimeMs: a.lifecycle.startedAt ? Date.now() - a.lifecycle.startedAt : 0,
    dataDir: a.config.dataDir,
    socket: a.config.socket,
    namespace: a.config.namespace,
    functions: (await a.functions.list()).length,
    activations: { stored: await a.store.activations.count(), inflight: a.activations.inflight },
    invoker: a.invoker.state(),
    cluster: a.cluster
      ? {
          addresses: a.cluster.addresses(),
          members: view.length,
          alive: count('alive'),
          suspect: count('suspect'),
          dead: count('dead'),
          left: count('left'),
          gossip: a.cluster.stats(),
        }
      : null,
    replication: a.replication.status(),
    memory: memoryMiB(),
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
