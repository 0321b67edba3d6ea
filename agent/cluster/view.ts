import type { Multiaddr } from '@multiformats/multiaddr'
import { rankWeighted, weightOf } from '../placement/rendezvous.ts'
import type { MemberView, PlacementPeer } from './index.ts'
import type { Member, Membership } from './membership.ts'

export function memberView(m: Member): MemberView {
  return {
    peerId: m.peerId,
    addrs: m.addrs,
    state: m.state,
    self: false,
    lastHeard: Math.max(m.lastHeard, m.lastAck),
    seq: m.seq,
    hlc: m.hlc,
    agentVersion: m.agentVersion,
    capacity: m.capacity,
    warm: m.warm,
    prewarm: m.prewarm,
    blobs: m.blobs,
    ...(m.ns ? { ns: m.ns } : {}),
    ...(m.q ? { q: m.q } : {}),
  }
}

/** The addresses to advertise: without /p2p/, deduplicated, loopback only when there is nothing else. */
export function advertised(addrs: Multiaddr[]): string[] {
  const all = [...new Set(addrs.map((a) => a.toString().replace(/\/p2p\/[^/]+$/, '')))]
  const outside = all.filter((a) => !/^\/(ip4\/127\.|ip6\/::1\/)/.test(a))
  return outside.length > 0 ? outside : all
}

/**
 * What placement reads per invocation: this node's fresh state first, then every member as the
 * live object its heartbeats update in place, and the membership's warm index. No copies (at 1,000
 * members, copying the view and looking up each member's warm inventory was nearly all of a
 * placement decision); the array is rebuilt only when members join or go, and its first entry is
 * replaced by each call. Read-only; its members change as heartbeats arrive.
 */
export class PlacementViewCache {
  #live: readonly Member[] | null = null
  #members: PlacementPeer[] = []
  /** Per function: its ranking over live members, valid while the membership's version holds. */
  readonly #ranks = new Map<string, { version: number; k: number; members: Member[]; weights: number[] }>()

  view(
    membership: Membership,
    self: PlacementPeer | undefined,
  ): {
    members: readonly PlacementPeer[]
    warm: (key: string) => Iterable<PlacementPeer>
    rank: (key: string, k: number) => readonly PlacementPeer[]
  } {
    const live = membership.live()
    let members: readonly PlacementPeer[] = live
    if (self) {
      if (this.#live !== live) {
        this.#live = live
        this.#members = [self, ...live]
      } else this.#members[0] = self
      members = this.#members
    }
    return {
      members,
      warm: (key) => {
        const indexed = membership.warmFor(key)
        return self && (self.warm[key] ?? 0) > 0 ? [self, ...indexed] : indexed
      },
      rank: (key, k) => this.#rank(membership, live, self, key, k),
    }
  }

  /**
   * The function's first `k` live members: the peers' ranking is computed once per membership
   * version (joins, departures and state changes; not heartbeats), this node merged in by weight.
   */
  #rank(
    membership: Membership,
    live: readonly Member[],
    self: PlacementPeer | undefined,
    key: string,
    k: number,
  ): PlacementPeer[] {
    const version = membership.version
    let r = this.#ranks.get(key)
    if (!r || r.version !== version || r.k < k) {
      if (this.#ranks.size >= MAX_RANKINGS) this.#ranks.clear()
      r = { version, k, ...rankWeighted(key, live, k) }
      this.#ranks.set(key, r)
    }
    const out: PlacementPeer[] = r.members.slice(0, k)
    if (self?.state === 'alive') {
      const w = weightOf(key, self)
      let i = 0
      while (i < out.length && r.weights[i]! > w) i++
      if (i < k) out.splice(i, 0, self)
      if (out.length > k) out.pop()
    }
    return out
  }
}

/** Functions whose rankings are kept (a few KiB each at 1,000 members); past it, all are dropped. */
const MAX_RANKINGS = 4096
