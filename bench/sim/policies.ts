import {
  type Candidate,
  type ChooseOptions,
  chooseCandidates,
  type Reason,
  withSelf,
} from '../../agent/placement/choose.ts'
import { PLACEMENT_DEFAULTS } from '../../agent/placement/index.ts'
import { OptimisticView } from '../../agent/placement/optimistic.ts'
import { forcedOrder } from '../../agent/placement/refusal.ts'
import { type PlacementMember, type PlacementTarget, scanView } from '../../agent/placement/score.ts'
import type { SimCluster, SimNode } from './cluster.ts'

/** Where one arrival goes: the node that runs it, or queues it when it is full; plus refusals seen. */
export interface Decision {
  node: SimNode
  refusals: number
  /** Of those, the receiving node's own (a local check: no hop). */
  localRefusals?: number
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

/** Other ways to walk than the agent's, for measuring them (docs/performance.md); none set: the agent. */
export interface WalkVariant {
  /** Ask this many remote candidates on their own terms, then force that chunk's soft refusers, then the next chunk. */
  chunk?: number
  /** After this many remote refusals, ask the rest of the list as `force`. */
  forceAfter?: number
  /** Gossip idle containers only as warm (the agent gossips busy ones too). */
  idleOnly?: boolean
}

/** What a target answers from its own fresh state: null to accept (mirrors agent/placement/refusal.ts). */
export function acceptRule(
  c: SimCluster,
  node: SimNode,
  fn: number,
  now: number,
  reason: Reason,
): null | 'NODE_FULL' | 'NOT_WARM' | 'WOULD_EVICT' {
  if (!c.hasRoom(node)) return 'NODE_FULL'
  if (c.hasIdle(node, fn, now)) return null
  if (reason === 'warm') return 'NOT_WARM'
  if (reason !== 'force' && node.busy + node.idle.length >= c.slots) return 'WOULD_EVICT'
  return null
}

/**
 * fnagent: each receiver orders candidates from its own (heartbeat-stale) gossip view with the real
 * placement code, walks them as `Placement.run` does, and each target accepts or refuses from its
 * fresh state.
 */
export function fnagent(
  c: SimCluster,
  r: () => number,
  choose: Partial<ChooseOptions> = {},
  walk: WalkVariant = {},
): Policy {
  const snapshot = (n: SimNode, now: number, seq: number) =>
    snapshotOf(c, n, now, seq, walk.idleOnly === true)
  const views: Member[] = c.nodes.map((n) => snapshot(n, 0, 0))
  const optimistic = c.nodes.map(() => new OptimisticView())
  const seqs = c.nodes.map(() => 0)
  return {
    name: variantName(walk),
    heartbeat(node, now) {
      seqs[node.idx]!++
      views[node.idx] = snapshot(node, now, seqs[node.idx]!)
    },
    place(fn, receiver, now) {
      const t: PlacementTarget = {
        warmKey: `${fnKey(fn)}@1`,
        prewarmKey: 'nodejs:24@256',
        homeKey: fnKey(fn),
        memoryMiB: 256,
      }
      const members = [...optimistic[receiver]!.apply(scanView(views)).members]
      const here = c.nodes[receiver]!
      // The agent's own entry in its view is its current state, not its last heartbeat.
      members[receiver] = { ...snapshot(here, now, seqs[receiver]!), self: true }
      const cands = withSelf(
        chooseCandidates(members, t, { ...PLACEMENT_DEFAULTS, ...choose, random: r }),
        here.id,
        c.hasIdle(here, fn, now),
      )
      let refusals = 0
      let localRefusals = 0
      const ask = (cand: Candidate, reason: Reason) => {
        const node = c.nodes[Number(cand.peerId.slice(5))]!
        const remote = node.idx !== receiver
        if (remote) optimistic[receiver]!.take(cand.peerId, views[node.idx]!.seq, t)
        const refusal = acceptRule(c, node, fn, now, reason)
        if (refusal === null) return { node, refusal }
        if (remote) optimistic[receiver]!.release(cand.peerId, t)
        refusals++
        if (!remote) localRefusals++
        return { node, refusal }
      }
      // The agent's walk (Placement.run): the whole list on each target's own terms, then, once,
      // forced, the ones that refused only to keep their warm containers, freest first. A variant
      // walks it in chunks, or forces after some refusals.
      const chunk = walk.chunk ?? Number.POSITIVE_INFINITY
      const forceAfter = walk.forceAfter ?? Number.POSITIVE_INFINITY
      let i = 0
      while (i < cands.length) {
        const soft: Array<{ cand: Candidate; freeSlots: number }> = []
        for (let asked = 0; i < cands.length && asked < chunk; i++) {
          const cand = cands[i]!
          const remoteRefusals = refusals - localRefusals
          const { node, refusal } = ask(cand, remoteRefusals >= forceAfter ? 'force' : cand.reason)
          if (refusal === null) return { node, refusals, localRefusals }
          if (node.idx !== receiver) asked++
          // The refusal carries the target's fresh free slots (refusal.ts `refusedAnswer`).
          if (refusal === 'NOT_WARM' || refusal === 'WOULD_EVICT')
            soft.push({ cand, freeSlots: c.slots - node.busy })
        }
        for (const { cand } of forcedOrder(soft)) {
          const { node, refusal } = ask(cand, 'force')
          if (refusal === null) return { node, refusals, localRefusals }
        }
      }
      // Still nothing: wait in the FIFO of the less busy of two random nodes (the agent answers
      // NODE_FULL and the caller retries). Not the least busy of all: every agent would pick it.
      const x = members[Math.floor(r() * members.length)]!
      const y = members[Math.floor(r() * members.length)]!
      const best = y.capacity.freeSlots > x.capacity.freeSlots ? y : x
      return { node: c.nodes[Number(best.peerId.slice(5))]!, refusals, localRefusals }
    },
  }
}

function variantName(walk: WalkVariant): string {
  const parts = [
    walk.chunk !== undefined ? `chunks of ${walk.chunk}` : '',
    walk.forceAfter !== undefined ? `forced after ${walk.forceAfter}` : '',
    walk.idleOnly ? 'idle-only gossip' : '',
  ].filter(Boolean)
  return parts.length ? `fnagent (${parts.join(', ')})` : 'fnagent'
}

function snapshotOf(c: SimCluster, n: SimNode, now: number, seq: number, idleOnly: boolean): Member {
  c.expire(n, now)
  const warm: Record<string, number> = {}
  // As the agent gossips it: the containers of each function version, busy ones included.
  for (const f of idleOnly ? n.idle.map((i) => i.fn) : [...n.idle.map((i) => i.fn), ...n.running])
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
