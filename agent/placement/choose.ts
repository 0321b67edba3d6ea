import { rankMembers } from './rendezvous.ts'
import {
  isCandidate,
  type PlacementMember,
  type PlacementTarget,
  type PlacementView,
  scanView,
  scoreMember,
} from './score.ts'

/**
 * The ordered list of nodes to try for one invocation. Every agent computes it the same way
 * from its own view, without talking. The spine is the function's rendezvous ranking over live
 * members: a consistent spill order, so that when a function's containers are all busy the new
 * one lands where every other agent will look next, and a popular function's warm containers
 * gather on its first few ranked nodes, as many as its demand needs.
 *
 *   1. `warm`: up to `warm` members the view shows with a container of this function version
 *      (busy ones count: the view cannot tell), the best of `d` random picks on the score, so that
 *      agents deciding from the same stale view spread over them;
 *   2. `home`: the other members the view shows warm among the function's first ranked nodes, in
 *      rank order (asked as homes: a free slot there may take it cold without evicting);
 *   3. `home`: the next `homes` ranked nodes the view does not show warm: where the function
 *      spills, in the same order on every agent;
 *   4. `load`: the best of `d` among the `window` ranked nodes after those, so that fallback work
 *      still lands where the next agent may look.
 *
 * The sender walks the list; each target accepts or refuses at once from its own fresh state
 * (refusal.ts).
 */

export type Reason = 'warm' | 'home' | 'load' | 'force'

export interface Candidate {
  peerId: string
  reason: Reason
  score: number
}

export interface ChooseOptions {
  /** Warm members tried first, picked best-of-d from the view. */
  warm: number
  /** Ranked nodes past the ones the view shows warm (the spill frontier). */
  homes: number
  /** Ranked nodes after the homes the load fallback picks from. */
  window: number
  /** d of the power-of-d choices. */
  d: number
  /**
   * Longest list returned (bounds the attempts). Long enough that at 1,000 nodes, with views up to
   * 10 s old, the walk finds idle containers the view does not show (the trade against round
   * trips is measured in docs/performance.md, "Placement simulator").
   */
  maxCandidates: number
  random: () => number
}

export const CHOOSE_DEFAULTS: ChooseOptions = {
  warm: 3,
  homes: 3,
  window: 14,
  d: 2,
  maxCandidates: 24,
  random: Math.random,
}

/** Orders `pool` by repeatedly taking the best of `d` random picks. */
function powerOfD<T>(pool: T[], score: (x: T) => number, d: number, random: () => number, take: number): T[] {
  const rest = [...pool]
  const out: T[] = []
  while (rest.length > 0 && out.length < take) {
    let best = -1
    for (let i = 0; i < Math.min(d, rest.length); i++) {
      const j = Math.floor(random() * rest.length)
      if (best < 0 || score(rest[j]!) > score(rest[best]!)) best = j
    }
    out.push(rest[best]!)
    rest.splice(best, 1)
  }
  return out
}

export function chooseCandidates(
  view: PlacementView | readonly PlacementMember[],
  t: PlacementTarget,
  opts: Partial<ChooseOptions> = {},
): Candidate[] {
  const o = { ...CHOOSE_DEFAULTS, ...opts }
  const v = 'members' in view ? view : scanView(view)
  // The live members the view shows warm (a warm member is always a candidate: it can queue on its
  // own container), from the view's index; then one pass for the function's ranking.
  const warm: PlacementMember[] = []
  for (const m of v.warm(t.warmKey)) if (m.state === 'alive' && (m.warm[t.warmKey] ?? 0) > 0) warm.push(m)
  // The function's first `warm + homes + window` ranked live nodes; full ones drop out (a crowded
  // prefix shortens the window rather than reaching further down the ranking).
  const k = warm.length + o.homes + o.window
  const ranked = (v.rank ? v.rank(t.homeKey, k) : rankMembers(t.homeKey, v.members, k)).filter((m) =>
    isCandidate(m, t),
  )
  const scores = new Map<PlacementMember, number>()
  const score = (m: PlacementMember) => {
    let s = scores.get(m)
    if (s === undefined) {
      s = scoreMember(m, t).score
      scores.set(m, s)
    }
    return s
  }
  const out: Candidate[] = []
  const seen = new Set<PlacementMember>()
  const push = (m: PlacementMember, reason: Reason) => {
    if (seen.has(m) || out.length >= o.maxCandidates) return
    seen.add(m)
    out.push({ peerId: m.peerId, reason, score: score(m) })
  }
  const warmSet = new Set(warm)
  const isWarm = (m: PlacementMember) => warmSet.has(m)
  const cold = ranked.filter((m) => !isWarm(m))
  for (const m of powerOfD(warm, score, o.d, o.random, o.warm)) push(m, 'warm')
  for (const m of ranked) if (isWarm(m)) push(m, 'home')
  for (const m of cold.slice(0, o.homes)) push(m, 'home')
  for (const m of powerOfD(cold.slice(o.homes), score, o.d, o.random, o.window)) push(m, 'load')
  return out
}

/**
 * The walk of the sender: this node first when it has an idle warm container (a local check that
 * costs no hop), else this node last when the list does not hold it.
 */
export function withSelf(cands: Candidate[], self: string, idleWarmHere: boolean): Candidate[] {
  if (idleWarmHere) {
    const here = cands.find((c) => c.peerId === self)
    return [{ peerId: self, reason: 'warm', score: here?.score ?? 0 }, ...cands.filter((c) => c !== here)]
  }
  return cands.some((c) => c.peerId === self) ? cands : [...cands, { peerId: self, reason: 'load', score: 0 }]
}
