import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import si from 'systeminformation'
import { ActivationService, NamespaceLimiter } from './activations/index.ts'
import { NodeAdvert } from './advert.ts'
import { type AgentApi, LocalApiServer } from './api/index.ts'
import { apiKeyRoutes, createOpenWhiskApi } from './api/openwhisk/index.ts'
import { Cluster, type MemberView, readClusterKey } from './cluster/index.ts'
import { CONFIG_FILE, type Config } from './config/index.ts'
import { Dashboard, dashboardView } from './dashboard/index.ts'
import { createDocker } from './docker.ts'
import { errors } from './errors.ts'
import { AlarmService, EventService, Webhooks } from './events/index.ts'
import { Faults } from './faults.ts'
import { FunctionService, PackageService } from './functions/index.ts'
import { describeZodError } from './functions/input.ts'
import { loadOrCreateIdentity } from './identity.ts'
import { Invoker } from './invoker/index.ts'
import { Lifecycle, type ServiceState, type Startable } from './lifecycle.ts'
import type { Logger } from './log.ts'
import { ActivationLogs } from './logs/index.ts'
import { AgentMetrics, ClusterTop, MetricsServer } from './metrics/index.ts'
import { Placement } from './placement/index.ts'
import { GossipedQueues, queueAdvert } from './queue/index.ts'
import { Replication } from './replication/index.ts'
import { HybridClock } from './store/hlc.ts'
import {
  type ActivationRecord,
  deriveSecretsKey,
  type FunctionRecord,
  namespaceLimitsSchema,
  SecretBox,
  Store,
  showSecrets,
} from './store/index.ts'
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
  const secrets = new SecretBox(deriveSecretsKey(await secretsMaterial(config)))

  const invoker = new Invoker(
    {
      logger: log('invoker'),
      secrets,
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

  const limiter: NamespaceLimiter = new NamespaceLimiter({
    limits: async (ns) => (await store.namespaces.get(ns))?.limits ?? null,
    peers: (): Array<Record<string, number> | undefined> =>
      (cluster?.view() ?? [])
        .filter((m: MemberView) => !m.self && (m.state === 'alive' || m.state === 'suspect'))
        .map((m: MemberView) => m.ns),
    changed: () => cluster?.publishNow(),
  })
  const advert = new NodeAdvert(
    invoker,
    () => activations.inflight,
    await store.blobs.list(256),
    () => limiter.load(),
    () => queueAdvert(activations.queueStats(), activations.deadLetters()),
  )
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

  const packages = new PackageService({
    logger: log('packages'),
    store,
    clock,
    nodeId,
    onWrite: (record) => replication.packageWritten(record),
  })
  const functions = new FunctionService(
    {
      logger: log('functions'),
      store,
      clock,
      nodeId,
      packages,
      secrets,
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

  // The other nodes' queues, from their heartbeats: the cluster-wide bound and the cross-node order.
  const queuePeers = new GossipedQueues(
    { view: () => cluster?.view() ?? [], publish: () => cluster?.publishNow() },
    { agingMs: config.queue.agingMs },
  )
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
      // Accept = durable: the answer waits for R copies (`replication.replicas`, this node's included).
      onMarker: (marker) => replication.activationStored(marker, config.replication.replicas),
      firstLiveOwner: (id) => replication.ownership.activationOwners(id)[0],
      memberState: (peerId) => cluster?.member(peerId)?.state,
      limiter,
      queuePeers,
      secrets,
    },
    { maxParamsBytes: config.invoker.maxPayloadBytes, drainMs: config.drainMs, queue: config.queue },
  )

  const events = new EventService({
    logger: log('events'),
    store,
    clock,
    nodeId,
    resolveAction: (name, ns) => functions.resolve(name, ns),
    invokeAsync: async (name, params, ns, activationId) => {
      const r = await activations.invoke(
        name,
        { params, blocking: false },
        ns,
        activationId ? { activationId } : {},
      )
      return (r.body as { activationId: string }).activationId
    },
    keepRecord: async (record) => {
      await store.activations.put(record)
      replicate(record)
    },
    findRecord: (id, signal) => replication.fetchActivation(id, signal),
    onWrite: (record) => replication.eventWritten(record),
  })
  const alarms = lifecycle.add(
    'alarms',
    new AlarmService(
      {
        logger: log('alarms'),
        store,
        nodeId,
        events,
        members: () => replication.ownership.members,
      },
      config.alarms,
    ),
  )
  const webhooks = new Webhooks({ events, secrets })

  const apiKeys = store.apiKeys
  const redact = (fn: FunctionRecord) => showSecrets(fn, secrets, false)
  /** The namespace the local CLI's `--namespace` names: this node's, or one that has an API key. */
  const namespaceOf = async (ns: string | undefined): Promise<string> => {
    if (ns === undefined || ns === config.namespace || (await apiKeys.hasNamespace(ns))) {
      return ns ?? config.namespace
    }
    throw errors.unknownNamespace(
      `namespace '${ns}' does not exist (no API key belongs to it); create one with 'fnagent auth create --namespace ${ns}'`,
    )
  }
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
      packages,
      events,
      alarms,
      webhooks,
      activations,
      store,
      keys: apiKeys,
      functionsBridge: {
        bridge: () => invoker.functionsBridge(),
        useApiHost: (url) => invoker.useApiHost(url),
        isolateHost: config.invoker.isolateHost,
      },
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
      list: async (ns) => (await functions.list(await namespaceOf(ns))).map(redact),
      get: async (name, ns, reveal) =>
        showSecrets(await functions.get(name, await namespaceOf(ns)), secrets, !!reveal),
      put: async (name, body, ns) => {
        const out = await functions.put(name, body, await namespaceOf(ns))
        return { ...out, record: redact(out.record) }
      },
      remove: async (name, ns) => (await functions.remove(name, await namespaceOf(ns))).tombstone,
      versions: async (name, ns) => (await functions.versions(name, await namespaceOf(ns))).map(redact),
      rollback: async (name, version, ns) =>
        redact((await functions.rollback(name, version, await namespaceOf(ns))).record),
    },
    packages: {
      list: async (ns) => packages.list(await namespaceOf(ns)),
      get: async (name, ns) => packages.get(await namespaceOf(ns), name),
      put: async (name, body, ns) => {
        const { overwrite, ...rest } = (body ?? {}) as { overwrite?: boolean }
        return packages.put(await namespaceOf(ns), name, rest, overwrite === true)
      },
      remove: async (name, ns) => packages.remove(await namespaceOf(ns), name),
    },
    namespaces: {
      limits: async (ns) => (await store.namespaces.get(await namespaceOf(ns)))?.limits ?? {},
      setLimits: async (ns, body) => {
        const namespace = await namespaceOf(ns)
        const parsed = namespaceLimitsSchema.safeParse(body ?? {})
        if (!parsed.success) throw errors.invalidArgument(describeZodError(parsed.error, 'invalid limits'))
        const head = await store.namespaces.get(namespace)
        const record = {
          namespace,
          limits: parsed.data,
          updated: head ? clock.update(head.updated) : clock.now(),
          origin: nodeId,
        }
        await store.namespaces.put(record)
        replication.namespaceWritten(record)
        return record.limits
      },
    },
    triggers: {
      list: async (ns) => events.listTriggers(await namespaceOf(ns)),
      get: async (name, ns) => {
        const t = await events.getTrigger(await namespaceOf(ns), name)
        return { ...t, rules: await events.rulesOf(t) }
      },
      put: async (name, body, ns) => {
        const { overwrite, ...rest } = (body ?? {}) as { overwrite?: unknown }
        return events.putTrigger(await namespaceOf(ns), name, rest, overwrite === true)
      },
      remove: async (name, ns) => events.deleteTrigger(await namespaceOf(ns), name),
      fire: async (name, payload, ns) => {
        if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
          throw errors.invalidArgument('a trigger payload is a JSON object')
        const namespace = await namespaceOf(ns)
        const id = await events.fire(
          namespace,
          name,
          payload as Record<string, unknown>,
          `operator@${nodeId}`,
        )
        return { activationId: id }
      },
      webhook: async (name, body, ns) => {
        const o = (body ?? {}) as { rotate?: unknown; remove?: unknown }
        const namespace = await namespaceOf(ns)
        if (o.remove === true) {
          await webhooks.disable(namespace, name)
          return null
        }
        return webhooks.enable(namespace, name, o.rotate === true)
      },
    },
    rules: {
      list: async (ns) => events.listRules(await namespaceOf(ns)),
      get: async (name, ns) => events.getRule(await namespaceOf(ns), name),
      put: async (name, body, ns) => {
        const { overwrite, ...rest } = (body ?? {}) as { overwrite?: unknown }
        return events.putRule(await namespaceOf(ns), name, rest, overwrite === true)
      },
      remove: async (name, ns) => events.deleteRule(await namespaceOf(ns), name),
      setStatus: async (name, status, ns) => events.setRuleStatus(await namespaceOf(ns), name, status),
    },
    invoke: async (name, body, ns) => activations.invoke(name, body, await namespaceOf(ns)),
    auth: apiKeyRoutes(
      {
        keys: apiKeys,
        stamp: () => ({ hlc: clock.now(), origin: nodeId }),
        onWrite: (record) => replication.keyWritten(record),
        namespace: config.namespace,
      },
      () => openwhiskApi,
    ),
    activations: {
      list: async (q, ns) =>
        activations.list(ns === undefined ? q : { ...q, namespace: await namespaceOf(ns) }),
      get: async (id, ns) => activations.get(id, ns === undefined ? undefined : await namespaceOf(ns)),
      job: (id) => activations.job(id),
      dead: (limit) => activations.dead(limit),
      replay: (id) => activations.replay(id),
    },
    queue: async () => {
      const stats = activations.queueStats()
      return {
        nodeId,
        ...stats,
        deadLetters: (await store.activations.deadIds(100_000)).length,
        clusterMaxJobs: config.queue.clusterMaxJobs,
        cluster: queuePeers.cluster({ node: nodeId, stats, deadLetters: activations.deadLetters() }),
      }
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

/**
 * What the secrets key is derived from: the cluster key (every node derives the same key, none
 * stores it), or, for an agent without a cluster, a key of its own in `<dataDir>/secrets.key`.
 */
async function secretsMaterial(config: Config): Promise<Uint8Array> {
  if (config.cluster.enabled) return clusterKey(config)
  const file = join(config.dataDir, 'secrets.key')
  if (!existsSync(file)) await writeFile(file, randomBytes(32), { mode: 0o600, flag: 'wx' }).catch(() => {})
  return readFile(file)
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
    // Both from memory: status answers without reading the store (it is what health checks poll).
    functions: a.store.functions.liveCount(a.config.namespace),
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
