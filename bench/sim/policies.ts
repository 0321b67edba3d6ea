import { type Candidate, chooseCandidates } from '../../agent/placement/choose.ts'
import { OptimisticView } from '../../agent/placement/optimistic.ts'
import type { PlacementMember, PlacementTarget } from '../../agent/placement/score.ts'
import type { SimCluster, SimNode } from './cluster.ts'

/** Where one arrival goes: the node that runs it, or queues it when it is full; plus refusals seen. */
export interface Decision {
  node: SimNode
  refusals: number
}

export interface Policy {
  name: string
  place(fn: number, receiver: number, now: number): Decision
  /** Called at each node's heartbeat (gossip policies refresh their view). */
  heartbeat?(node: SimNode, now: number): void
}

const fnKey = (fn: number) => `ns/f${fn}`

function leastBusy(nodes: SimNode[], c: SimCluster): SimNode | undefined {
  let best: SimNode | undefined
  for (const n of nodes) if (c.hasRoom(n) && (!best || n.busy < best.busy)) best = n
  return best
}

/** A central scheduler with perfect, fresh information. */
export function omniscient(c: SimCluster): Policy {
  return {
    name: 'omniscient',
    place(fn, _r, now) {
      const holders = [...(c.idleIndex.get(fn) ?? [])]
        .map((i) => c.nodes[i]!)
        .filter((n) => c.hasIdle(n, fn, now))
      const warm = leastBusy(holders, c)
      if (warm) return { node: warm, refusals: 0 }
      const any = leastBusy(c.nodes, c)
      if (any) return { node: any, refusals: 0 }
      return { node: c.nodes.reduce((a, b) => (b.queue.length < a.queue.length ? b : a)), refusals: 0 }
    },
  }
}

export function random(c: SimCluster, r: () => number): Policy {
  return { name: 'random', place: () => ({ node: c.nodes[Math.floor(r() * c.nodes.length)]!, refusals: 0 }) }
}

export function roundRobin(c: SimCluster): Policy {
  let i = 0
  return { name: 'round-robin', place: () => ({ node: c.nodes[i++ % c.nodes.length]!, refusals: 0 }) }
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b)
}

/** OpenWhisk's ShardingContainerPoolBalancer: home invoker by hash, co-prime step to the next one. */
export function sharding(c: SimCluster, r: () => number): Policy {
  const n = c.nodes.length
  const steps = Array.from({ length: n }, (_, i) => i + 1).filter((s) => gcd(s, n) === 1)
  return {
    name: 'openwhisk-sharding',
    place(fn) {
      const h = Math.abs(Math.imul(fn + 1, 2654435761) | 0)
      const home = h % n
      const step = steps[h % steps.length]!
      for (let i = 0; i < n; i++) {
        const node = c.nodes[(home + i * step) % n]!
        if (c.hasRoom(node)) return { node, refusals: 0 }
      }
      return { node: c.nodes[Math.floor(r() * n)]!, refusals: 0 }
    },
  }
}

type Member = PlacementMember & { seq: number }

/**
 * What a target decides from its own fresh state (mirrors the agent's acceptance): an idle warm
 * container is always taken; a home takes it cold when it has a free slot; a load-fallback target
 * only when no warm container of another function must be evicted for it.
 */
export function acceptRule(c: SimCluster, node: SimNode, fn: number, now: number, reason: string): boolean {
  if (!c.hasRoom(node)) return false
  if (c.hasIdle(node, fn, now)) return true
  if (reason === 'warm') return false
  if (reason === 'home' || reason === 'force') return true
  return node.busy + node.idle.length < c.slots
}

/**
 * fnagent: each receiver orders candidates from its own (heartbeat-stale) gossip view with the real
 * placement code, and each target accepts or refuses from its fresh state.
 */
export function fnagent(c: SimCluster, r: () => number, opts: { heartbeatMs: number }): Policy {
  const views: Member[] = c.nodes.map((n) => snapshot(c, n, 0, 0))
  const optimistic = c.nodes.map(() => new OptimisticView())
  const seqs = c.nodes.map(() => 0)
  void opts
  return {
    name: 'fnagent',
    heartbeat(node, now) {
      seqs[node.idx]!++
      views[node.idx] = snapshot(c, node, now, seqs[node.idx]!)
    },
    place(fn, receiver, now) {
      const t: PlacementTarget = {
        warmKey: `${fnKey(fn)}@1`,
        prewarmKey: 'nodejs:24@256',
        homeKey: fnKey(fn),
        memoryMiB: 256,
      }
      const members = optimistic[receiver]!.apply(
        views.map((v, i) => (i === receiver ? { ...v, self: true } : v)),
      )
      const cands: Candidate[] = chooseCandidates(members, t, { random: r })
      let refusals = 0
      for (const cand of cands) {
        const node = c.nodes[Number(cand.peerId.slice(5))]!
        const accept = acceptRule(c, node, fn, now, cand.reason)
        if (accept) {
          optimistic[receiver]!.take(cand.peerId, views[node.idx]!.seq, t, cand.reason === 'warm')
          return { node, refusals }
        }
        refusals++
      }
      // Everyone refused on its own terms: a second pass takes any free slot, cold (as the agent).
      for (const cand of cands) {
        const node = c.nodes[Number(cand.peerId.slice(5))]!
        if (acceptRule(c, node, fn, now, 'force')) {
          optimistic[receiver]!.take(cand.peerId, views[node.idx]!.seq, t, false)
          return { node, refusals }
        }
        refusals++
      }
      // Still nothing: wait in the FIFO of the less busy of two random nodes (the agent answers
      // NODE_FULL and the caller retries). Not the least busy of all: every agent would pick it.
      const x = members[Math.floor(r() * members.length)]!
      const y = members[Math.floor(r() * members.length)]!
      const best = y.capacity.freeSlots > x.capacity.freeSlots ? y : x
      return { node: c.nodes[Number(best.peerId.slice(5))]!, refusals }
    },
  }
}

function snapshot(c: SimCluster, n: SimNode, now: number, seq: number): Member {
  c.expire(n, now)
  const warm: Record<string, number> = {}
  // As the agent gossips it: the containers of each function version, busy ones included.
  for (const f of [...n.idle.map((i) => i.fn), ...n.running])
    warm[`${fnKey(f)}@1`] = (warm[`${fnKey(f)}@1`] ?? 0) + 1
  const free = c.slots - n.busy
  return {
    peerId: n.id,
    seq,
    state: 'alive',
    self: false,
    capacity: {
      cpus: 8,
      load: (100 * n.busy) / c.slots,
      memTotalMiB: c.slots * 256 * 2,
      memFreeMiB: (c.slots - n.busy) * 256 + c.slots * 256,
      budgetMiB: c.slots * 256,
      budgetFreeMiB: (c.slots - n.busy - n.idle.length) * 256,
      freeSlots: free,
      inflight: n.busy + n.queue.length,
    },
    warm,
    prewarm: {},
    blobs: [],
  }
}
