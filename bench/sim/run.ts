import type { ChooseOptions } from '../../agent/placement/choose.ts'
import { SimCluster, type SimNode } from './cluster.ts'
import { EventHeap, percentile, rng } from './heap.ts'
import {
  fnagent,
  omniscient,
  type Policy,
  random,
  roundRobin,
  sharding,
  type WalkVariant,
} from './policies.ts'
import { type Arrival, makeTrace, type TraceOptions } from './trace.ts'

export interface SimOptions extends TraceOptions {
  heartbeatMs: number
  /** As the agent: the period grows to N·1000/maxInboundPerSec ms (bounded gossip load). */
  maxInboundPerSec: number
  /**
   * How a node's state reaches the others. `change` (the agent since issue 22): only when it
   * changed (a container started, finished, or a new one came), at most once per period.
   * `periodic` (before): every period, and half a period after a change of the warm inventory.
   */
  dissemination: 'change' | 'periodic'
  keepAliveMs: number
  coldStartMs: number
  /** One forwarding round trip (a refusal costs one). */
  hopMs: number
}

export const SIM_DEFAULTS: Omit<SimOptions, 'nodes'> = {
  slotsPerNode: 8,
  functions: 0, // 0: 2 per node
  zipf: 1.0,
  meanDurationMs: 500,
  load: 0.5,
  durationMs: 120_000,
  maxArrivals: 120_000,
  seed: 42,
  heartbeatMs: 1000,
  maxInboundPerSec: 100,
  dissemination: 'change',
  keepAliveMs: 60_000,
  coldStartMs: 500,
  hopMs: 0.3,
}

export interface SimResult {
  policy: string
  nodes: number
  invocations: number
  coldRatio: number
  /** Delay before the start: placement round trips plus the wait in a node's queue. */
  p50DelayMs: number
  p99DelayMs: number
  /** Of that, the wait in a node's queue for a free slot (queueing delay proper). */
  p50QueueMs: number
  p99QueueMs: number
  /** And the placement round trips alone (the one to the runner, plus one per remote refusal). */
  p50PlaceMs: number
  p99PlaceMs: number
  /** What the caller waits for before its code runs: the delay plus its cold start, if any. */
  meanStartMs: number
  p99StartMs: number
  imbalance: number
  refusals: number
  /** Share of invocations that took more than one hop to place (a refusal before the runner). */
  multiHop: number
  /** Share that waited in a node's queue. */
  queued: number
}

type Ev =
  | { at: number; kind: 'arrive'; a: Arrival }
  | { at: number; kind: 'finish'; node: SimNode; fn: number }
  | { at: number; kind: 'beat'; node: SimNode }

/** A policy over a simulated cluster, given the run's random stream. */
export type PolicyFactory = (c: SimCluster, r: () => number, choose: Partial<ChooseOptions>) => Policy

const FACTORIES: Record<string, PolicyFactory> = {
  omniscient: (c) => omniscient(c),
  random: (c, r) => random(c, r),
  'round-robin': (c) => roundRobin(c),
  'openwhisk-sharding': (c, r) => sharding(c, r),
  fnagent: (c, r, choose) => fnagent(c, r, choose),
}

/**
 * Runs one policy (a name of `POLICIES`, or a factory for a variant being measured) over `trace`;
 * `choose` overrides the agent's candidate tunables.
 */
export function simulate(
  policy: string | PolicyFactory,
  o: SimOptions,
  trace: Arrival[],
  choose: Partial<ChooseOptions> = {},
): SimResult {
  const make = typeof policy === 'function' ? policy : FACTORIES[policy]
  if (!make) throw new Error(`unknown policy ${policy}; one of ${Object.keys(FACTORIES).join(', ')}`)
  const c = new SimCluster(o.nodes, o.slotsPerNode, o.keepAliveMs)
  const r = rng(o.seed + 1)
  const p = make(c, r, choose)
  const heap = new EventHeap<Ev>()
  for (const a of trace) heap.push({ at: a.at, kind: 'arrive', a })
  // State messages as the agent sends them (agent/cluster/publisher.ts): see `dissemination`.
  const period = Math.max(o.heartbeatMs, (o.nodes * 1000) / o.maxInboundPerSec)
  const periodic = o.dissemination === 'periodic'
  const nextBeat = new Float64Array(o.nodes)
  const lastBeat = new Float64Array(o.nodes)
  const schedule = (node: SimNode, at: number) => {
    nextBeat[node.idx] = at
    heap.push({ at, kind: 'beat', node })
  }
  const changed = (node: SimNode, now: number) => {
    if (!p.heartbeat) return
    const soon = Math.max(now, lastBeat[node.idx]! + (periodic ? period / 2 : period))
    if (periodic ? soon < nextBeat[node.idx]! : nextBeat[node.idx]! <= now) schedule(node, soon)
  }
  if (p.heartbeat) for (const n of c.nodes) schedule(n, r() * period)
  const end = trace.at(-1)?.at ?? 0
  let cold = 0
  let refusals = 0
  let multiHop = 0
  let queued = 0
  const delays: number[] = []
  const waits: number[] = []
  const places: number[] = []
  const starts: number[] = []
  const run = (node: SimNode, fn: number, duration: number, now: number, place: number, wait: number) => {
    const how = c.start(node, fn, now)
    if (how === 'cold') cold++
    // A new container changes the warm inventory; on change, any start changes the capacity.
    if (how === 'cold' || !periodic) changed(node, now)
    const service = duration + (how === 'cold' ? o.coldStartMs : 0)
    node.busyTime += service
    delays.push(place + wait)
    starts.push(place + wait + (how === 'cold' ? o.coldStartMs : 0))
    waits.push(wait)
    places.push(place)
    heap.push({ at: now + service, kind: 'finish', node, fn })
  }
  for (let ev = heap.pop(); ev; ev = heap.pop()) {
    if (ev.kind === 'beat') {
      if (ev.at !== nextBeat[ev.node.idx]) continue // superseded by an earlier one
      p.heartbeat?.(ev.node, ev.at)
      lastBeat[ev.node.idx] = ev.at
      if (periodic && ev.at < end) schedule(ev.node, ev.at + period)
    } else if (ev.kind === 'arrive') {
      const d = p.place(ev.a.fn, ev.a.receiver, ev.at)
      refusals += d.refusals
      const hops = d.refusals - (d.localRefusals ?? 0) + (d.node.idx === ev.a.receiver ? 0 : 1)
      if (hops > 1) multiHop++
      if (c.hasRoom(d.node) && d.node.queue.length === 0)
        run(d.node, ev.a.fn, ev.a.duration, ev.at, hops * o.hopMs, 0)
      else {
        queued++
        d.node.queue.push({ fn: ev.a.fn, duration: ev.a.duration, arrived: ev.at, delay: hops * o.hopMs })
      }
    } else {
      c.finish(ev.node, ev.fn, ev.at)
      if (!periodic) changed(ev.node, ev.at)
      const next = ev.node.queue.shift()
      if (next) run(ev.node, next.fn, next.duration, ev.at, next.delay, ev.at - next.arrived)
    }
  }
  for (const a of [delays, waits, places, starts]) a.sort((x, y) => x - y)
  const busy = c.nodes.map((n) => n.busyTime)
  const mean = busy.reduce((a, b) => a + b, 0) / busy.length
  return {
    policy: p.name,
    nodes: o.nodes,
    invocations: trace.length,
    coldRatio: cold / Math.max(1, trace.length),
    p50DelayMs: percentile(delays, 50),
    p99DelayMs: percentile(delays, 99),
    p50QueueMs: percentile(waits, 50),
    p99QueueMs: percentile(waits, 99),
    p50PlaceMs: percentile(places, 50),
    p99PlaceMs: percentile(places, 99),
    meanStartMs: starts.reduce((a, b) => a + b, 0) / Math.max(1, starts.length),
    p99StartMs: percentile(starts, 99),
    imbalance: mean > 0 ? Math.max(...busy) / mean : 0,
    refusals,
    multiHop: multiHop / Math.max(1, trace.length),
    queued: queued / Math.max(1, trace.length),
  }
}

export const POLICIES = ['omniscient', 'fnagent', 'openwhisk-sharding', 'random', 'round-robin'] as const

/** Every policy on one trace; with `walk`, fnagent walks as that variant does, for measuring it. */
export function simulateAll(
  nodes: number,
  overrides: Partial<SimOptions> = {},
  walk?: WalkVariant,
): SimResult[] {
  const o: SimOptions = { ...SIM_DEFAULTS, nodes, ...overrides }
  if (!o.functions) o.functions = 2 * nodes
  const trace = makeTrace(o)
  return POLICIES.map((p) =>
    simulate(p === 'fnagent' && walk ? (c, r, choose) => fnagent(c, r, choose, walk) : p, o, trace),
  )
}
