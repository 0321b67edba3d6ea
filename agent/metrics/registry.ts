import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import type { RanActivation } from '../invoker/index.ts'
import { MAX_PRIORITY, PRIORITIES } from '../queue/index.ts'
import type { ActivationRecord } from '../store/types.ts'
import { PerFunction } from './labels.ts'
import {
  type CounterSeries,
  FastCounter,
  FastHistogram,
  type HistogramSeries,
  type Labels,
} from './series.ts'
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

/** The series one function's activations and invocations count into (made on its first one). */
class FunctionSeries {
  readonly wait: HistogramSeries
  readonly init: HistogramSeries
  readonly run: HistogramSeries
  readonly #activations = new Map<string, CounterSeries>()
  readonly #invocations = new Map<string, HistogramSeries>()
  readonly #labels: Labels
  readonly #m: FunctionFamilies

  constructor(m: FunctionFamilies, namespace: string, name: string) {
    this.#m = m
    this.#labels = { namespace, function: name }
    this.wait = m.wait.series(this.#labels)
    this.init = m.init.series(this.#labels)
    this.run = m.run.series(this.#labels)
  }

  /** Keyed by status then start kind, both from small fixed sets. */
  activations(status: string, start: string): CounterSeries {
    const key = `${status} ${start}`
    let s = this.#activations.get(key)
    if (!s) {
      s = this.#m.activations.series({ ...this.#labels, status, start })
      this.#activations.set(key, s)
    }
    return s
  }

  invocation(status: string): HistogramSeries {
    let s = this.#invocations.get(status)
    if (!s) {
      s = this.#m.invocation.series({ ...this.#labels, status })
      this.#invocations.set(status, s)
    }
    return s
  }
}

interface FunctionFamilies {
  activations: FastCounter
  wait: FastHistogram
  init: FastHistogram
  run: FastHistogram
  invocation: FastHistogram
}

/**
 * One agent's Prometheus registry (never the global one: several agents share a test process).
 * What an invocation counts goes into plain numbers (series.ts), each function's series found by
 * two map reads; everything else is read from `sources` at scrape. Names and labels:
 * docs/observability.md.
 */
export class AgentMetrics {
  readonly registry = new Registry()
  readonly #fns: PerFunction<FunctionSeries>
  readonly #placements: FastCounter
  readonly #placed = new Map<string, CounterSeries>()
  readonly #attempts: HistogramSeries
  readonly #refusals: FastCounter
  readonly #refused = new Map<string, CounterSeries>()
  readonly #queueWait: HistogramSeries[]

  constructor(sources: MetricsSources, init: { maxFunctions: number }) {
    const r = this.registry
    const families: FunctionFamilies = {
      activations: new FastCounter(
        'fnagent_activations_total',
        'Activations this node ran, by function, status and how the container was got (warm, prewarmed, cold)',
        r,
      ),
      wait: new FastHistogram(
        'fnagent_activation_wait_seconds',
        'Activation received by the invoker to its container ready',
        SECONDS,
        r,
      ),
      init: new FastHistogram(
        'fnagent_activation_init_seconds',
        "The action's /init (prewarmed and cold starts)",
        SECONDS,
        r,
      ),
      run: new FastHistogram(
        'fnagent_activation_run_seconds',
        "The activation's duration as its record shows it",
        SECONDS,
        r,
      ),
      invocation: new FastHistogram(
        'fnagent_invocation_duration_seconds',
        'End to end on the node that received the invocation: placement, forwarding and the run',
        SECONDS,
        r,
      ),
    }
    this.#fns = new PerFunction(init.maxFunctions, (ns, name) => new FunctionSeries(families, ns, name))
    this.#placements = new FastCounter(
      'fnagent_placements_total',
      'Invocations placed by this node: run here or forwarded, by the reason of the chosen candidate (force: the last pass)',
      r,
    )
    this.#attempts = new FastHistogram(
      'fnagent_placement_attempts',
      'Candidates asked before one took the invocation (1: the first)',
      [1, 2, 3, 4, 6, 8],
      r,
    ).series()
    this.#refusals = new FastCounter(
      'fnagent_placement_refusals_total',
      'Candidates that refused an invocation this node placed, by reason (error code, LOST: gone mid-flight)',
      r,
    )
    const queueWait = new FastHistogram(
      'fnagent_queue_wait_seconds',
      "A queued job's acceptance to its first run, by asked priority",
      SECONDS,
      r,
    )
    this.#queueWait = PRIORITIES.map((p) => queueWait.series({ priority: String(p) }))
    scraped([r], sources)
    collectDefaultMetrics({ register: r })
  }

  /** An activation this node ran (the invoker's hook). */
  activation(a: RanActivation): void {
    const { record } = a
    const fn = this.#fns.of(record.namespace, record.name)
    fn.activations(STATUS_LABEL[record.response.status] ?? 'internal_error', a.start).inc()
    fn.wait.observe(a.waitMs / 1000)
    if (a.initMs !== undefined) fn.init.observe(a.initMs / 1000)
    fn.run.observe(record.duration / 1000)
  }

  /** An invocation this node received, answered after `ms` (the activation service's runner). */
  invocation(record: ActivationRecord, ms: number): void {
    const fn = this.#fns.of(record.namespace, record.name)
    fn.invocation(STATUS_LABEL[record.response.status] ?? 'internal_error').observe(ms / 1000)
  }

  /** A queued job's first run started `ms` after it was accepted (the activation service's hook). */
  queueWait(priority: number, ms: number): void {
    this.#queueWait[Math.max(0, Math.min(MAX_PRIORITY, priority))]!.observe(ms / 1000)
  }

  /** Placement's hooks. */
  readonly placement = {
    placed: (where: 'local' | 'forwarded', reason: string, attempt: number) => {
      const key = `${where} ${reason}`
      let s = this.#placed.get(key)
      if (!s) {
        s = this.#placements.series({ where, reason })
        this.#placed.set(key, s)
      }
      s.inc()
      this.#attempts.observe(attempt)
    },
    refused: (reason: string) => {
      let s = this.#refused.get(reason)
      if (!s) {
        s = this.#refusals.series({ reason })
        this.#refused.set(reason, s)
      }
      s.inc()
    },
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
  queueAndTriggers(gauge, total, s)
  gauge('fnagent_store_size_bytes', 'Size of the LevelDB files on disk', [], async (g) =>
    g.set(await dirBytes(s.dbDir)),
  )
}

type GaugeOf = (
  name: string,
  help: string,
  labelNames: string[],
  collect: (g: Gauge) => void | Promise<void>,
) => Gauge
type TotalOf = (
  name: string,
  help: string,
  labelNames: string[],
  read: () => Array<[Record<string, string>, number]>,
) => Counter

/** The queue's and the triggers' metrics: their services keep the counts, read here at scrape. */
function queueAndTriggers(gauge: GaugeOf, total: TotalOf, s: MetricsSources): void {
  const { queue, events } = s
  if (queue) {
    gauge(
      'fnagent_queue_depth',
      "Jobs waiting in this node's queue, by asked priority",
      ['priority'],
      (g) => {
        for (const [p, n] of queue().waiting.entries()) g.set({ priority: String(p) }, n)
      },
    )
    gauge('fnagent_queue_running', "Jobs of this node's queue out for a run", [], (g) =>
      g.set(queue().running),
    )
    gauge('fnagent_queue_delayed', 'Jobs waiting for their retry backoff to pass', [], (g) =>
      g.set(queue().delayed),
    )
    gauge(
      'fnagent_queue_oldest_wait_seconds',
      'How long the oldest waiting job has waited (0: none)',
      [],
      (g) => {
        const oldest = queue().oldestAccepted
        g.set(oldest === null ? 0 : Math.max(0, Date.now() - oldest) / 1000)
      },
    )
    gauge('fnagent_queue_max_jobs', "The bound of this node's queue (queue.maxJobs)", [], (g) =>
      g.set(queue().maxJobs),
    )
    const count = (
      name: string,
      help: string,
      key: 'completed' | 'refusedFull' | 'retries' | 'deadLetters' | 'takeovers',
    ) => total(name, help, [], () => [[{}, queue()[key]]])
    count(
      'fnagent_queue_jobs_done_total',
      'Jobs whose run ended here (any outcome, retries apart)',
      'completed',
    )
    count(
      'fnagent_queue_full_total',
      'Placement attempts of a job that every node refused (it waited again)',
      'refusedFull',
    )
    count('fnagent_queue_retries_total', "Failed runs run again by the function's retry policy", 'retries')
    count(
      'fnagent_queue_dead_letters_total',
      'Jobs whose last attempt failed (the dead-letter list)',
      'deadLetters',
    )
    count('fnagent_queue_takeovers_total', 'Jobs taken over from a dead or departed node', 'takeovers')
    total(
      'fnagent_queue_callbacks_total',
      'Completion callbacks, by outcome (failed: given up after the last attempt)',
      ['outcome'],
      () => {
        const q = queue()
        return byOutcome({ delivered: q.callbacksDelivered, failed: q.callbacksFailed })
      },
    )
  }
  if (events) {
    total(
      'fnagent_trigger_fires_total',
      'Triggers fired on this node, by outcome (no_active_rule: nothing recorded)',
      ['outcome'],
      () => {
        const e = events()
        return byOutcome({ fired: e.fired, no_active_rule: e.noActiveRule })
      },
    )
    total(
      'fnagent_rule_activations_total',
      'Rules of fired triggers, by outcome (started: the action was accepted)',
      ['outcome'],
      () => {
        const e = events()
        return byOutcome({ started: e.rulesStarted, failed: e.rulesFailed })
      },
    )
  }
}

function byOutcome(counts: Record<string, number>): Array<[Record<string, string>, number]> {
  return Object.entries(counts).map(([outcome, n]) => [{ outcome }, n])
}
