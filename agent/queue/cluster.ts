import type { MemberView } from '../cluster/index.ts'
import { MAX_PRIORITY, PRIORITIES } from './options.ts'
import { effectivePriority } from './order.ts'
import type { QueueStats } from './service.ts'

/**
 * What a node gossips of its queue (cluster/messages.ts `q`): `w0`..`w2` waiting per priority,
 * `r` running or in a retry's backoff, `o0`..`o2` the oldest waiting job's accept time per
 * priority in epoch seconds (a value that changes only when that head changes), `d` the dead
 * letters it counts. Zero entries are left out.
 */
export function queueAdvert(stats: QueueStats, deadLetters: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (const p of PRIORITIES) {
    const w = stats.waiting[p] ?? 0
    const o = stats.oldestPerPriority[p]
    if (w > 0) out[`w${p}`] = w
    if (w > 0 && o != null) out[`o${p}`] = Math.floor(o / 1000)
  }
  const r = stats.running + stats.delayed
  if (r > 0) out.r = r
  if (deadLetters > 0) out.d = deadLetters
  return out
}

/** One node's queue in the cluster view (`fnagent queue`). */
export interface NodeQueue {
  node: string
  self: boolean
  /** Waiting jobs per priority (0, 1, 2). */
  waiting: number[]
  /** Out for a run, or waiting for a retry's backoff. */
  running: number
  /** Epoch ms the oldest waiting job was accepted (seconds precision for other nodes), or null. */
  oldestAccepted: number | null
  deadLetters: number
}

export interface ClusterQueue {
  nodes: NodeQueue[]
  /** Sums over the live nodes; the oldest wait is the cluster's oldest. */
  total: Omit<NodeQueue, 'node' | 'self'> & { jobs: number }
}

/** A node's queue as its gossip says (all zero when it advertises none: an empty queue). */
export function nodeQueueOf(m: Pick<MemberView, 'peerId' | 'q'>): NodeQueue {
  const q = m.q ?? {}
  const oldest = PRIORITIES.map((p) => ((q[`w${p}`] ?? 0) > 0 ? (q[`o${p}`] ?? 0) * 1000 : null)).filter(
    (t): t is number => t !== null,
  )
  return {
    node: m.peerId,
    self: false,
    waiting: PRIORITIES.map((p) => q[`w${p}`] ?? 0),
    running: q.r ?? 0,
    oldestAccepted: oldest.length ? Math.min(...oldest) : null,
    deadLetters: q.d ?? 0,
  }
}

/**
 * The highest effective priority (the aging rule) among the jobs waiting on a node, as its gossip
 * says, or -1 when none waits there. The head of each priority's list is its oldest job.
 */
export function headPriority(q: Record<string, number> | undefined, now: number, agingMs: number): number {
  let best = -1
  for (const p of PRIORITIES) {
    if (!q || (q[`w${p}`] ?? 0) === 0) continue
    // The wire has seconds: the head is taken as young as it may be (the end of its second), so
    // that rounding never makes another node's job look older than this node's own.
    const accepted = q[`o${p}`] === undefined ? now : q[`o${p}`]! * 1000 + 999
    best = Math.max(best, effectivePriority({ priority: p, accepted, seq: 0 }, now, agingMs))
    if (best === MAX_PRIORITY) break
  }
  return best
}

export interface GossipedQueuesComponents {
  /** The cluster view (every member, self included); empty without a cluster. */
  view: () => MemberView[]
  /** Gossip this node's state soon (its queue changed shape). */
  publish: () => void
}

/**
 * The other nodes' queues as their heartbeats say: the cluster-wide bound's depth, the rule that
 * a node yields to older or higher-priority jobs waiting elsewhere, and `fnagent queue`'s view.
 * The view is read at most every `cacheMs` (the pump asks on every placement).
 */
export class GossipedQueues {
  readonly #c: GossipedQueuesComponents
  readonly #agingMs: number
  readonly #cacheMs: number
  #peers: MemberView[] = []
  #at = 0

  constructor(components: GossipedQueuesComponents, init: { agingMs: number; cacheMs?: number }) {
    this.#c = components
    this.#agingMs = init.agingMs
    this.#cacheMs = init.cacheMs ?? 200
  }

  /** The live other members (alive or suspect: a suspect's jobs still count). */
  #others(): MemberView[] {
    const now = Date.now()
    if (now - this.#at >= this.#cacheMs) {
      this.#peers = this.#c.view().filter((m) => !m.self && (m.state === 'alive' || m.state === 'suspect'))
      this.#at = now
    }
    return this.#peers
  }

  /** Jobs the other live nodes hold (waiting, running, or in backoff). */
  depth(): number {
    let n = 0
    for (const m of this.#others()) {
      const q = m.q
      if (q) n += (q.w0 ?? 0) + (q.w1 ?? 0) + (q.w2 ?? 0) + (q.r ?? 0)
    }
    return n
  }

  /** Whether a job of effective priority `mine` yields to a higher one waiting on another node. */
  yieldTo(mine: number): boolean {
    if (mine >= MAX_PRIORITY) return false
    const now = Date.now()
    return this.#others().some((m) => headPriority(m.q, now, this.#agingMs) > mine)
  }

  changed(): void {
    this.#c.publish()
  }

  /** Every live node's queue (this node's from its own stats) and the cluster's sums. */
  cluster(self: { node: string; stats: QueueStats; deadLetters: number }): ClusterQueue {
    const mine: NodeQueue = {
      node: self.node,
      self: true,
      waiting: [...self.stats.waiting],
      running: self.stats.running + self.stats.delayed,
      oldestAccepted: self.stats.oldestAccepted,
      deadLetters: self.deadLetters,
    }
    this.#at = 0
    const nodes = [mine, ...this.#others().map(nodeQueueOf)]
    const oldest = nodes.map((n) => n.oldestAccepted).filter((t): t is number => t !== null)
    const waiting = PRIORITIES.map((p) => nodes.reduce((s, n) => s + (n.waiting[p] ?? 0), 0))
    const running = nodes.reduce((s, n) => s + n.running, 0)
    return {
      nodes,
      total: {
        waiting,
        running,
        oldestAccepted: oldest.length ? Math.min(...oldest) : null,
        deadLetters: nodes.reduce((s, n) => s + n.deadLetters, 0),
        jobs: waiting.reduce((a, b) => a + b, 0) + running,
      },
    }
  }
}
