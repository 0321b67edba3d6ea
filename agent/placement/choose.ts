import { rendezvous } from './rendezvous.ts'
import { isCandidate, type PlacementMember, type PlacementTarget, scoreMember } from './score.ts'

/**
 * The ordered list of nodes to try for one invocation. Every agent computes it the same way
 * from its own view, without talking:
 *
 *   1. `warm`: members the view shows with an idle warm container of this function version;
 *   2. `home`: the function's home nodes, by rendezvous hashing over live members, so that
 *      repeated invocations converge on the same few nodes and find them warm;
 *   3. `load`: the rest, ordered by the better-of-d-random-choices on the score (not greedy:
 *      agents deciding from the same stale view must not all pile onto the same node).
 *
 * The sender walks the list; each target accepts or refuses at once from its own fresh state.
 */

export type Reason = 'warm' | 'home' | 'load' | 'force'

export interface Candidate {
  peerId: string
  reason: Reason
  score: number
}

export interface ChooseOptions {
  /** Home nodes per function. */
  homes: number
  /** d of the power-of-d choices. */
  d: number
  /** Longest list returned (bounds the attempts). */
  maxCandidates: number
  random: () => number
}

export const CHOOSE_DEFAULTS: ChooseOptions = { homes: 1, d: 2, maxCandidates: 6, random: Math.random }

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
  members: readonly PlacementMember[],
  t: PlacementTarget,
  opts: Partial<ChooseOptions> = {},
): Candidate[] {
  const o = { ...CHOOSE_DEFAULTS, ...opts }
  const alive = members.filter((m) => m.state === 'alive')
  const usable = alive.filter((m) => isCandidate(m, t))
  const scores = new Map(usable.map((m) => [m.peerId, scoreMember(m, t).score]))
  const score = (m: PlacementMember) => scores.get(m.peerId) ?? Number.NEGATIVE_INFINITY
  const out: Candidate[] = []
  const seen = new Set<string>()
  const push = (m: PlacementMember, reason: Reason) => {
    if (seen.has(m.peerId) || out.length >= o.maxCandidates) return
    seen.add(m.peerId)
    out.push({ peerId: m.peerId, reason, score: score(m) })
  }
  const homes = rendezvous(
    t.homeKey,
    alive.map((m) => m.peerId),
    o.homes,
  )
  const isHome = new Set(homes)
  // A warm node that is also a home may take the invocation cold when its warm container is busy.
  const warm = usable.filter((m) => (m.warm[t.warmKey] ?? 0) > 0)
  for (const m of powerOfD(warm, score, o.d, o.random, warm.length))
    push(m, isHome.has(m.peerId) ? 'home' : 'warm')
  const byId = new Map(usable.map((m) => [m.peerId, m]))
  for (const id of homes) {
    const m = byId.get(id)
    if (m) push(m, 'home')
  }
  const rest = usable.filter((m) => !seen.has(m.peerId))
  for (const m of powerOfD(rest, score, o.d, o.random, o.maxCandidates)) push(m, 'load')
  return out
}
