import type { ChooseOptions } from '../../agent/placement/choose.ts'
import { SimCluster, type SimNode } from './cluster.ts'
import { EventHeap, percentile, rng } from './heap.ts'
import { fnagent, omniscient, type Policy, random, roundRobin, sharding } from './policies.ts'
import { type Arrival, makeTrace, type TraceOptions } from './trace.ts'

export interface SimOptions extends TraceOptions {
  heartbeatMs: number
  /** As the agent: the heartbeat period grows to N·1000/maxInboundPerSec ms (bounded gossip load). */
  maxInboundPerSec: number
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
  keepAliveMs: 60_000,
  coldStartMs: 500,
  hopMs: 0.3,
}

export interface SimResult {
  policy: string
  nodes: number
  invocations: number
  coldRatio: number
  p50DelayMs: number
  p99DelayMs: number
  imbalance: number
  refusals: number
}

type Ev =
  | { at: number; kind: 'arrive'; a: Arrival }
  | { at: number; kind: 'finish'; node: SimNode; fn: number }
  | { at: number; kind: 'beat'; node: SimNode }

/** Runs one policy over `trace`; `choose` overrides the agent's candidate tunables (for measuring). */
export function simulate(
  policyName: string,
  o: SimOptions,
  trace: Arrival[],
  choose: Partial<ChooseOptions> = {},
): SimResult {
  const c = new SimCluster(o.nodes, o.slotsPerNode, o.keepAliveMs)
  const r = rng(o.seed + 1)
  const policy: Policy =
    policyName === 'omniscient'
      ? omniscient(c)
      : policyName === 'random'
        ? random(c, r)
        : policyName === 'round-robin'
          ? roundRobin(c)
          : policyName === 'openwhisk-sharding'
            ? sharding(c, r)
            : fnagent(c, r, choose)
  const heap = new EventHeap<Ev>()
  for (const a of trace) heap.push({ at: a.at, kind: 'arrive', a })
  // Heartbeats as the agent sends them (agent/cluster/heartbeat.ts): every `period`, and brought
  // forward when the node's state changes, but never sooner than half a period after the last one.
  const period = Math.max(o.heartbeatMs, (o.nodes * 1000) / o.maxInboundPerSec)
  const nextBeat = new Float64Array(o.nodes)
  const lastBeat = new Float64Array(o.nodes)
  const schedule = (node: SimNode, at: number) => {
    nextBeat[node.idx] = at
    heap.push({ at, kind: 'beat', node })
  }
  const changed = (node: SimNode, now: number) => {
    if (!policy.heartbeat) return
    const soon = Math.max(now, lastBeat[node.idx]! + period / 2)
    if (soon < nextBeat[node.idx]!) schedule(node, soon)
  }
  if (policy.heartbeat) for (const n of c.nodes) schedule(n, r() * period)
  const end = trace.at(-1)?.at ?? 0
  let cold = 0
  let refusals = 0
  const delays: number[] = []
  const run = (node: SimNode, fn: number, duration: number, now: number, delay: number) => {
    const how = c.start(node, fn, now)
    if (how === 'cold') {
      cold++
      changed(node, now) // a new container: the warm inventory changed
    }
    const service = duration + (how === 'cold' ? o.coldStartMs : 0)
    node.busyTime += service
    delays.push(delay)
    heap.push({ at: now + service, kind: 'finish', node, fn })
  }
  for (let ev = heap.pop(); ev; ev = heap.pop()) {
    if (ev.kind === 'beat') {
      if (ev.at !== nextBeat[ev.node.idx]) continue // superseded by an earlier one
      policy.heartbeat?.(ev.node, ev.at)
      lastBeat[ev.node.idx] = ev.at
      if (ev.at < end) schedule(ev.node, ev.at + period)
    } else if (ev.kind === 'arrive') {
      const d = policy.place(ev.a.fn, ev.a.receiver, ev.at)
      refusals += d.refusals
      const hops = d.refusals - (d.localRefusals ?? 0) + (d.node.idx === ev.a.receiver ? 0 : 1)
      if (c.hasRoom(d.node) && d.node.queue.length === 0)
        run(d.node, ev.a.fn, ev.a.duration, ev.at, hops * o.hopMs)
      else d.node.queue.push({ fn: ev.a.fn, duration: ev.a.duration, arrived: ev.at, delay: hops * o.hopMs })
    } else {
      c.finish(ev.node, ev.fn, ev.at)
      const next = ev.node.queue.shift()
      if (next) run(ev.node, next.fn, next.duration, ev.at, next.delay + (ev.at - next.arrived))
    }
  }
  delays.sort((a, b) => a - b)
  const busy = c.nodes.map((n) => n.busyTime)
  const mean = busy.reduce((a, b) => a + b, 0) / busy.length
  return {
    policy: policy.name,
    nodes: o.nodes,
    invocations: trace.length,
    coldRatio: cold / Math.max(1, trace.length),
    p50DelayMs: percentile(delays, 50),
    p99DelayMs: percentile(delays, 99),
    imbalance: mean > 0 ? Math.max(...busy) / mean : 0,
    refusals,
  }
}

export const POLICIES = ['omniscient', 'fnagent', 'openwhisk-sharding', 'random', 'round-robin'] as const

export function simulateAll(nodes: number, overrides: Partial<SimOptions> = {}): SimResult[] {
  const o: SimOptions = { ...SIM_DEFAULTS, nodes, ...overrides }
  if (!o.functions) o.functions = 2 * nodes
  const trace = makeTrace(o)
  return POLICIES.map((p) => simulate(p, o, trace))
}
