import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { RanActivation } from '../invoker/index.ts'
import type { ActivationRecord } from '../store/types.ts'
import { FunctionLabels } from './labels.ts'
import { dirBytes, type MetricsSources } from './sources.ts'

/** Seconds buckets from 1 ms to 5 min (a cold start is seconds, a warm run milliseconds). */
const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

/** OpenWhisk's statuses as label values (no spaces). */
const STATUS_LABEL: Record<string, string> = {
  success: 'success',
  'application error': 'application_error',
  'action developer error': 'developer_error',
  'whisk internal error': 'internal_error',
}

/**
 * One agent's Prometheus registry (never the global one: several agents share a test process).
 * The services count into it with cheap increments; everything else is read from `sources` at
 * scrape. Names and labels: docs/observability.md.
 */
export class AgentMetrics {
  readonly registry = new Registry()
  readonly #fns: FunctionLabels
  readonly #activations: Counter<'namespace' | 'function' | 'status' | 'start'>
  readonly #wait: Histogram<'namespace' | 'function'>
  readonly #init: Histogram<'namespace' | 'function'>
  readonly #run: Histogram<'namespace' | 'function'>
  readonly #invocation: Histogram<'namespace' | 'function' | 'status'>
  readonly #placements: Counter<'where' | 'reason'>
  readonly #attempts: Histogram
  readonly #refusals: Counter<'reason'>

  constructor(sources: MetricsSources, init: { maxFunctions: number }) {
    const registers = [this.registry]
    this.#fns = new FunctionLabels(init.maxFunctions)
    const fnLabels = ['namespace', 'function'] as const
    this.#activations = new Counter({
      name: 'fnagent_activations_total',
      help: 'Activations this node ran, by function, status and how the container was got (warm, prewarmed, cold)',
      labelNames: [...fnLabels, 'status', 'start'],
      registers,
    })
    this.#wait = new Histogram({
      name: 'fnagent_activation_wait_seconds',
      help: 'Activation received by the invoker to its container ready',
      labelNames: fnLabels,
      buckets: SECONDS,
      registers,
    })
    this.#init = new Histogram({
      name: 'fnagent_activation_init_seconds',
      help: "The action's /init (prewarmed and cold starts)",
      labelNames: fnLabels,
      buckets: SECONDS,
      registers,
    })
    this.#run = new Histogram({
      name: 'fnagent_activation_run_seconds',
      help: "The activation's duration as its record shows it",
      labelNames: fnLabels,
      buckets: SECONDS,
      registers,
    })
    this.#invocation = new Histogram({
      name: 'fnagent_invocation_duration_seconds',
      help: 'End to end on the node that received the invocation: placement, forwarding and the run',
      labelNames: [...fnLabels, 'status'],
      buckets: SECONDS,
      registers,
    })
    this.#placements = new Counter({
      name: 'fnagent_placements_total',
      help: 'Invocations placed by this node: run here or forwarded, by the reason of the chosen candidate (force: the last pass)',
      labelNames: ['where', 'reason'],
      registers,
    })
    this.#attempts = new Histogram({
      name: 'fnagent_placement_attempts',
      help: 'Candidates asked before one took the invocation (1: the first)',
      buckets: [1, 2, 3, 4, 6, 8],
      registers,
    })
    this.#refusals = new Counter({
      name: 'fnagent_placement_refusals_total',
      help: 'Candidates that refused an invocation this node placed, by reason (error code, LOST: gone mid-flight)',
      labelNames: ['reason'],
      registers,
    })
    scraped(registers, sources)
    collectDefaultMetrics({ register: this.registry })
  }

  /** An activation this node ran (the invoker's hook). */
  activation(a: RanActivation): void {
    const [namespace, fn] = this.#fns.of(a.record.namespace, a.record.name)
    const labels = { namespace, function: fn }
    const status = STATUS_LABEL[a.record.response.status] ?? 'internal_error'
    this.#activations.inc({ ...labels, status, start: a.start })
    this.#wait.observe(labels, a.waitMs / 1000)
    if (a.initMs !== undefined) this.#init.observe(labels, a.initMs / 1000)
    this.#run.observe(labels, a.record.duration / 1000)
  }

  /** An invocation this node received, answered after `ms` (the activation service's runner). */
  invocation(record: ActivationRecord, ms: number): void {
    const [namespace, fn] = this.#fns.of(record.namespace, record.name)
    const status = STATUS_LABEL[record.response.status] ?? 'internal_error'
    this.#invocation.observe({ namespace, function: fn, status }, ms / 1000)
  }

  /** Placement's hooks. */
  readonly placement = {
    placed: (where: 'local' | 'forwarded', reason: string, attempt: number) => {
      this.#placements.inc({ where, reason })
      this.#attempts.observe(attempt)
    },
    refused: (reason: string) => this.#refusals.inc({ reason }),
  }

  /** The text exposition format. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}

/** The metrics read from the services at each scrape. */
function scraped(registers: Registry[], s: MetricsSources): void {
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    collect: (g: Gauge) => void | Promise<void>,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        return collect(this)
      },
    })
  // A counter kept by a service: the scrape sets it to the service's running total.
  const total = (
    name: string,
    help: string,
    labelNames: string[],
    read: () => Array<[Record<string, string>, number]>,
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset()
        for (const [labels, v] of read()) this.inc(labels, v)
      },
    })

  gauge(
    'fnagent_containers',
    'Function containers on this node by state (busy: running an activation)',
    ['state'],
    (g) => {
      const st = s.invoker()
      const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0)
      g.set({ state: 'warm' }, sum(st.warm))
      g.set({ state: 'prewarmed' }, sum(st.prewarm))
      g.set({ state: 'busy' }, st.inflight)
    },
  )
  gauge('fnagent_memory_budget_bytes', 'The function memory budget', [], (g) =>
    g.set(s.invoker().budgetMiB * 2 ** 20),
  )
  gauge('fnagent_memory_budget_free_bytes', 'Budget no container holds', [], (g) =>
    g.set(s.invoker().budgetFreeMiB * 2 ** 20),
  )
  gauge('fnagent_members', 'Cluster members as this node sees them, by state', ['state'], (g) => {
    g.reset()
    for (const state of ['alive', 'suspect', 'dead', 'left']) g.set({ state }, 0)
    for (const m of s.members?.() ?? []) g.inc({ state: m.state })
  })
  total('fnagent_gossip_messages_total', 'Heartbeat gossip messages', ['direction'], () => {
    const g = s.gossip?.()
    return g
      ? [
          [{ direction: 'in' }, g.received],
          [{ direction: 'out' }, g.published],
        ]
      : []
  })
  total('fnagent_gossip_bytes_total', 'Heartbeat gossip bytes', ['direction'], () => {
    const g = s.gossip?.()
    return g
      ? [
          [{ direction: 'in' }, g.bytesIn],
          [{ direction: 'out' }, g.bytesOut],
        ]
      : []
  })
  total('fnagent_gossip_dropped_total', 'Heartbeat gossip messages dropped, by reason', ['reason'], () =>
    Object.entries(s.gossip?.().dropped ?? {}).map(([reason, n]) => [{ reason }, n]),
  )
  gauge('fnagent_cluster_connections', 'Open libp2p connections', [], (g) =>
    g.set(s.gossip?.().connections ?? 0),
  )
  gauge(
    'fnagent_replication_under_replicated',
    'Records and blobs not yet on all their owners (the replication lag)',
    [],
    (g) => g.set(s.replication().underReplicated),
  )
  gauge('fnagent_replication_catching_up', 'Ownership catch-ups in progress', [], (g) =>
    g.set(s.replication().catchingUp),
  )
  total(
    'fnagent_replication_repairs_total',
    'Records and blobs moved by anti-entropy, catch-up and handoff',
    [],
    () => [[{}, s.replication().repairs]],
  )
  total('fnagent_replication_bytes_total', 'Replication bytes', ['direction'], () => {
    const r = s.replication()
    return [
      [{ direction: 'in' }, r.bytesIn],
      [{ direction: 'out' }, r.bytesOut],
    ]
  })
  total(
    'fnagent_replication_dropped_total',
    'Replication messages or records dropped, by reason',
    ['reason'],
    () => Object.entries(s.replication().dropped).map(([reason, n]) => [{ reason }, n]),
  )
  gauge('fnagent_store_size_bytes', 'Size of the LevelDB files on disk', [], async (g) =>
    g.set(await dirBytes(s.dbDir)),
  )
}
