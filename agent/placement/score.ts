/**
 * Placement scoring: a pure function of one member's gossiped state and the function to place.
 *
 *   score = 100 · warm       a warm container of this exact function version
 *         +  20 · containers how many it has, up to 8: the view counts busy containers too, and
 *                            the more a node has, the likelier one of them is idle now
 *         +  40 · prewarm    a prewarmed container (prewarmed container) of the kind and memory size
 *         +  10 · cached     the code blob is already on the node
 *         −  50 · busy       in-flight work relative to its slots: inflight / (inflight + freeSlots)
 *         −  30 · tight      the function's memory does not fit in the free budget (eviction needed)
 *         −  20 · load       CPU busy share (gossiped as a percent), capped at 1
 *         −  10 · memPress   share of the machine's memory in use
 *         +   2 · local      a small preference for the local node on near-ties
 *
 * A member that is not alive, or that has no free slot and no warm container, is not a candidate.
 */

export interface CapacityView {
  cpus: number
  /** Percent of CPU busy (0–100), as the cluster samples it. */
  load: number
  memTotalMiB: number
  memFreeMiB: number
  budgetMiB: number
  budgetFreeMiB: number
  freeSlots: number
  inflight: number
}

/** The part of a member's gossiped state placement reads (structurally a cluster MemberView). */
export interface PlacementMember {
  peerId: string
  state: 'alive' | 'suspect' | 'dead' | 'left'
  /** Set (true) on the deciding node's own entry only. */
  self?: boolean
  /** `fnv1a(peerId)`, when the view keeps it (saves a lookup per member in the ranking). */
  idHash?: number
  capacity: CapacityView
  warm: Record<string, number>
  prewarm: Record<string, number>
  blobs: readonly string[]
}

export interface PlacementTarget {
  /** `namespace/name@version`: the warm-inventory key. */
  warmKey: string
  /** `kind@memory`: the prewarm-inventory key. */
  prewarmKey: string
  /** `namespace/name`: the home-node key. */
  homeKey: string
  codeHash?: string
  memoryMiB: number
}

export const WEIGHTS = {
  warm: 100,
  containers: 20,
  prewarm: 40,
  cached: 10,
  busy: 50,
  tight: 30,
  load: 20,
  memPressure: 10,
  local: 2,
} as const

/** Containers of the function beyond which more add nothing to the score. */
export const CONTAINERS_COUNTED = 8

export interface ScoreParts {
  score: number
  warm: boolean
  prewarm: boolean
  cached: boolean
}

export function scoreMember(m: PlacementMember, t: PlacementTarget): ScoreParts {
  const c = m.capacity
  const containers = m.warm[t.warmKey] ?? 0
  const warm = containers > 0
  const prewarm = (m.prewarm[t.prewarmKey] ?? 0) > 0
  const cached = t.codeHash !== undefined && m.blobs.includes(t.codeHash)
  const slots = c.inflight + c.freeSlots
  const busy = slots > 0 ? c.inflight / slots : 1
  const tight = c.budgetFreeMiB < t.memoryMiB ? 1 : 0
  const load = Math.min(1, Math.max(0, c.load / 100))
  const memPressure = c.memTotalMiB > 0 ? 1 - c.memFreeMiB / c.memTotalMiB : 1
  const score =
    WEIGHTS.warm * +warm +
    WEIGHTS.containers * Math.min(containers, CONTAINERS_COUNTED) +
    WEIGHTS.prewarm * +prewarm +
    WEIGHTS.cached * +cached -
    WEIGHTS.busy * busy -
    WEIGHTS.tight * tight -
    WEIGHTS.load * load -
    WEIGHTS.memPressure * memPressure +
    WEIGHTS.local * (m.self === true ? 1 : 0)
  return { score, warm, prewarm, cached }
}

/**
 * What one placement decision reads: every member (for the function's ranking) and, from an index
 * when the view keeps one, the members it shows warm for a function version. A plain array of
 * members is a view too (`scanView`: the warm ones found by looking at each).
 */
export interface PlacementView<M extends PlacementMember = PlacementMember> {
  members: readonly M[]
  /** The members the view shows holding a container of `warmKey` (any state; the caller filters). */
  warm(warmKey: string): Iterable<M>
  /** The `k` live members ranked first for `homeKey` (`rankMembers`), when the view keeps them. */
  rank?(homeKey: string, k: number): readonly M[]
}

export function scanView<M extends PlacementMember>(members: readonly M[]): PlacementView<M> {
  return { members, warm: (key) => members.filter((m) => (m.warm[key] ?? 0) > 0) }
}

/** Whether a member can be tried at all. */
export function isCandidate(m: PlacementMember, t: PlacementTarget): boolean {
  if (m.state !== 'alive') return false
  return m.capacity.freeSlots > 0 || (m.warm[t.warmKey] ?? 0) > 0
}
