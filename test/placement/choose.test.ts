import { describe, expect, it } from 'vitest'
import { chooseCandidates } from '../../agent/placement/choose.ts'
import { OptimisticView } from '../../agent/placement/optimistic.ts'
import { rendezvous } from '../../agent/placement/rendezvous.ts'
import { type PlacementMember, type PlacementTarget, scoreMember } from '../../agent/placement/score.ts'
import { rng } from '../../bench/sim/heap.ts'

type M = PlacementMember & { seq: number }

function member(id: string, over: Partial<M> = {}, cap: Partial<M['capacity']> = {}): M {
  return {
    peerId: id,
    seq: 1,
    state: 'alive',
    self: false,
    warm: {},
    prewarm: {},
    blobs: [],
    ...over,
    capacity: {
      cpus: 2,
      load: 20,
      memTotalMiB: 8192,
      memFreeMiB: 6000,
      budgetMiB: 4096,
      budgetFreeMiB: 4096,
      freeSlots: 16,
      inflight: 0,
      ...cap,
    },
  }
}

const t: PlacementTarget = {
  warmKey: 'guest/hello@1',
  prewarmKey: 'nodejs:24@256',
  homeKey: 'guest/hello',
  memoryMiB: 256,
}
const ids = Array.from({ length: 10 }, (_, i) => `node-${i}`)

describe('placement candidates', () => {
  it('puts the node with a warm container of this exact version first', () => {
    const members = ids.map((id) => member(id, id === 'node-7' ? { warm: { 'guest/hello@1': 1 } } : {}))
    const c = chooseCandidates(members, t, { random: rng(1) })
    expect(c[0]?.peerId).toBe('node-7')
    // a warm container of another version does not count
    const other = ids.map((id) => member(id, id === 'node-7' ? { warm: { 'guest/hello@2': 1 } } : {}))
    expect(chooseCandidates(other, t, { random: rng(1) })[0]?.reason).toBe('home')
  })

  it('gives every agent the same home nodes without talking', () => {
    const a = chooseCandidates(
      ids.map((id) => member(id)),
      t,
      { random: rng(1) },
    ).filter((c) => c.reason === 'home')
    const b = chooseCandidates(
      [...ids].reverse().map((id) => member(id)),
      t,
      { random: rng(99) },
    ).filter((c) => c.reason === 'home')
    expect(a.map((c) => c.peerId)).toEqual(b.map((c) => c.peerId))
    expect(a.map((c) => c.peerId)).toEqual(rendezvous('guest/hello', ids, 1))
  })

  it('skips dead, left and full nodes', () => {
    const members = ids.map((id, i) =>
      member(
        id,
        { state: i < 3 ? 'dead' : i < 5 ? 'left' : 'alive' },
        i >= 5 && i < 9 ? { freeSlots: 0 } : {},
      ),
    )
    expect(chooseCandidates(members, t).map((c) => c.peerId)).toEqual(['node-9'])
  })

  it('does not herd: agents deciding from the same view spread load-fallback work', () => {
    const members = ids.map((id) => member(id, {}, { freeSlots: 8 }))
    const firstLoad = new Map<string, number>()
    const r = rng(7)
    for (let i = 0; i < 500; i++) {
      const c = chooseCandidates(members, { ...t, homeKey: `fn-${i}` }, { random: r, homes: 0 })
      firstLoad.set(c[0]!.peerId, (firstLoad.get(c[0]!.peerId) ?? 0) + 1)
    }
    expect(firstLoad.size).toBeGreaterThanOrEqual(8)
    expect(Math.max(...firstLoad.values())).toBeLessThan(150)
  })

  it('prefers warm over prewarmed over cached code, and penalises busy nodes', () => {
    const warm = scoreMember(member('a', { warm: { 'guest/hello@1': 1 } }), t).score
    const pre = scoreMember(member('b', { prewarm: { 'nodejs:24@256': 1 } }), t).score
    const cached = scoreMember(member('c', { blobs: ['h'] }), { ...t, codeHash: 'h' }).score
    const plain = scoreMember(member('d'), t).score
    const busy = scoreMember(member('e', {}, { inflight: 16, freeSlots: 1 }), t).score
    expect(warm > pre && pre > cached && cached > plain && plain > busy).toBe(true)
  })

  it('counts work sent to a peer against its slots until its next heartbeat', () => {
    const view = new OptimisticView()
    const m = member('node-1', { warm: { 'guest/hello@1': 1 } }, { freeSlots: 2 })
    view.take('node-1', 1, t, true)
    const [after] = view.apply([m])
    expect(after?.capacity.freeSlots).toBe(1)
    expect(after?.warm['guest/hello@1']).toBe(0)
    const [fresh] = view.apply([{ ...m, seq: 2 }])
    expect(fresh?.capacity.freeSlots).toBe(2)
  })
})
