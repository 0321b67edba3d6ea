import { describe, expect, it } from 'vitest'
import { Membership } from '../../agent/cluster/membership.ts'
import type { ClusterMessage } from '../../agent/cluster/messages.ts'
import { PlacementViewCache } from '../../agent/cluster/view.ts'
import { chooseCandidates } from '../../agent/placement/choose.ts'
import { OptimisticView } from '../../agent/placement/optimistic.ts'
import type { PlacementTarget } from '../../agent/placement/score.ts'
import { rng } from '../../bench/sim/heap.ts'

// The agent decides from the cluster's live members, its warm index and cached rankings; the
// simulator (and the reference) from a plain array scanned in full. They must choose alike.

const peer = (i: number) => `12D3KooWTestPeer${String(i).padStart(4, '0')}`
const cap = (freeSlots: number) => ({
  cpus: 2,
  load: 10,
  memTotalMiB: 8192,
  memFreeMiB: 6000,
  budgetMiB: 4096,
  budgetFreeMiB: 4096,
  freeSlots,
  inflight: 0,
})

function full(i: number, seq: number, warm: Record<string, number>, freeSlots = 4): ClusterMessage {
  return {
    v: 1,
    t: 'full',
    peer: peer(i),
    seq,
    hlc: '0',
    iv: 1000,
    ver: '0.1.0',
    addrs: [],
    cap: cap(freeSlots),
    warm,
    prewarm: {},
    blobs: [],
  } as unknown as ClusterMessage
}

const target = (i: number): PlacementTarget => ({
  warmKey: `guest/f${i}@1`,
  prewarmKey: 'nodejs:24@256',
  homeKey: `guest/f${i}`,
  memoryMiB: 256,
})

const self = {
  peerId: peer(0),
  state: 'alive' as const,
  self: true,
  seq: 1,
  capacity: cap(4),
  warm: { 'guest/f1@1': 1 },
  prewarm: {},
  blobs: [],
}

function decideBoth(membership: Membership, cache: PlacementViewCache, t: PlacementTarget) {
  const view = cache.view(membership, self)
  const fast = chooseCandidates(view, t, { random: rng(7) }).map((c) => c.peerId)
  const reference = chooseCandidates([...view.members], t, { random: rng(7) }).map((c) => c.peerId)
  return { fast, reference }
}

describe('the placement view of the cluster', () => {
  it('chooses as a full scan of the members does, as members join, warm up, go suspect and leave', () => {
    const membership = new Membership({ suspectMs: 3000, deadMs: 10_000, removeMs: 60_000 })
    const cache = new PlacementViewCache()
    for (let i = 1; i <= 60; i++) membership.receive(full(i, 1, i % 3 === 0 ? { 'guest/f1@1': 1 } : {}))
    const check = () => {
      for (let f = 0; f < 5; f++) {
        const { fast, reference } = decideBoth(membership, cache, target(f))
        expect(new Set(fast)).toEqual(new Set(reference))
        expect(fast.length).toBeGreaterThan(0)
      }
    }
    check()
    // A member warms up for f2 (a new heartbeat), another goes cold for f1.
    membership.receive(full(7, 2, { 'guest/f2@1': 2 }))
    membership.receive(full(3, 2, {}))
    check()
    const f2 = decideBoth(membership, cache, target(2)).fast
    expect(f2[0]).toBe(peer(7))
    const f1 = chooseCandidates(cache.view(membership, self), target(1), { random: rng(7) })
    expect(f1.filter((c) => c.reason === 'warm').map((c) => c.peerId)).not.toContain(peer(3))
    // A suspect member is not chosen; a full one that is not warm neither.
    for (let i = 10; i < 20; i++) membership.probeResult(peer(i), false)
    membership.receive(full(21, 2, {}, 0))
    check()
    for (let f = 0; f < 5; f++) {
      const chosen = decideBoth(membership, cache, target(f)).fast
      for (let i = 10; i < 20; i++) expect(chosen).not.toContain(peer(i))
      expect(chosen).not.toContain(peer(21))
    }
    // A new member joins.
    membership.receive(full(61, 1, { 'guest/f4@1': 1 }))
    check()
    expect(decideBoth(membership, cache, target(4)).fast).toContain(peer(61))
  })

  it('counts a peer just sent work as warm for that function even before its heartbeat says so', () => {
    const membership = new Membership({ suspectMs: 3000, deadMs: 10_000, removeMs: 60_000 })
    const cache = new PlacementViewCache()
    for (let i = 1; i <= 30; i++) membership.receive(full(i, 1, {}))
    const optimistic = new OptimisticView()
    const t = target(3)
    optimistic.take(peer(9), 1, t)
    const view = optimistic.apply(cache.view(membership, self))
    const cands = chooseCandidates(view, t, { random: rng(1) })
    expect(cands[0]).toMatchObject({ peerId: peer(9), reason: 'warm' })
  })
})
