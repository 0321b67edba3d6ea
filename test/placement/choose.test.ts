import { describe, expect, it } from 'vitest'
import { CHOOSE_DEFAULTS, chooseCandidates, withSelf } from '../../agent/placement/choose.ts'
import { OptimisticView } from '../../agent/placement/optimistic.ts'
import { rendezvous } from '../../agent/placement/rendezvous.ts'
import {
  type PlacementMember,
  type PlacementTarget,
  scanView,
  scoreMember,
} from '../../agent/placement/score.ts'
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
    expect(a.map((c) => c.peerId)).toEqual(rendezvous('guest/hello', ids, CHOOSE_DEFAULTS.homes))
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

  it('prefers the warm node with more containers of the version, up to a bound', () => {
    const withN = (n: number) => scoreMember(member(`n${n}`, { warm: { 'guest/hello@1': n } }), t).score
    expect(withN(4)).toBeGreaterThan(withN(1))
    expect(withN(8)).toBeGreaterThan(withN(4))
    expect(withN(50)).toBe(withN(8))
  })

  it('spills in the same ranked order on every agent: past the nodes the view shows warm', () => {
    const many = Array.from({ length: 50 }, (_, i) => `node-${i}`)
    const rank = rendezvous('guest/hello', many, 50)
    // The function's first four ranked nodes hold its containers (busy ones count).
    const warmIds = new Set(rank.slice(0, 4))
    const view = many.map((id) => member(id, warmIds.has(id) ? { warm: { 'guest/hello@1': 2 } } : {}))
    const lists = [rng(1), rng(2), rng(3)].map((r) => chooseCandidates(view, t, { random: r }))
    for (const c of lists) {
      expect(c.slice(0, 4).every((x) => warmIds.has(x.peerId))).toBe(true)
      const homes = c.filter((x) => x.reason === 'home' && !warmIds.has(x.peerId)).map((x) => x.peerId)
      expect(homes).toEqual(rank.slice(4, 4 + CHOOSE_DEFAULTS.homes))
      // The load fallback stays inside the function's ranked window, not anywhere in the cluster.
      const window = new Set(
        rank.slice(4 + CHOOSE_DEFAULTS.homes, 4 + CHOOSE_DEFAULTS.homes + CHOOSE_DEFAULTS.window),
      )
      for (const x of c.filter((y) => y.reason === 'load')) expect(window.has(x.peerId)).toBe(true)
      expect(c.length).toBeLessThanOrEqual(CHOOSE_DEFAULTS.maxCandidates)
    }
    // A full ranked node is skipped, and the frontier moves one further.
    const full = rank[4]!
    const c = chooseCandidates(
      view.map((m) => (m.peerId === full ? { ...m, capacity: { ...m.capacity, freeSlots: 0 } } : m)),
      t,
      { random: rng(1) },
    )
    expect(c.map((x) => x.peerId)).not.toContain(full)
    expect(c.filter((x) => x.reason === 'home' && !warmIds.has(x.peerId)).map((x) => x.peerId)).toEqual(
      rank.slice(5, 5 + CHOOSE_DEFAULTS.homes),
    )
  })

  it('tries a few warm nodes picked best-of-d first, then the rest of them in rank order', () => {
    const many = Array.from({ length: 40 }, (_, i) => `node-${i}`)
    const view = many.map((id) => member(id, { warm: { 'guest/hello@1': 1 } }))
    const rank = rendezvous('guest/hello', many, 40)
    const firsts = new Set<string>()
    const r = rng(5)
    for (let i = 0; i < 50; i++) {
      const c = chooseCandidates(view, t, { random: r })
      expect(c.slice(0, CHOOSE_DEFAULTS.warm).every((x) => x.reason === 'warm')).toBe(true)
      firsts.add(c[0]!.peerId)
      const rest = c.slice(CHOOSE_DEFAULTS.warm).map((x) => x.peerId)
      expect(rest).toEqual(rank.filter((id) => rest.includes(id)))
    }
    // Agents deciding from the same view do not all try the same warm node first.
    expect(firsts.size).toBeGreaterThan(10)
  })

  it('tries this node first when it has an idle warm container, else last when not listed', () => {
    const list = chooseCandidates(
      ids.map((id) => member(id)),
      t,
      { random: rng(3) },
    )
    const self = list[2]!.peerId
    const first = withSelf(list, self, true)
    expect(first[0]).toMatchObject({ peerId: self, reason: 'warm' })
    expect(first.filter((c) => c.peerId === self)).toHaveLength(1)
    expect(first).toHaveLength(list.length)
    expect(withSelf(list, self, false)).toEqual(list)
    const appended = withSelf(list, 'elsewhere', false)
    expect(appended.at(-1)).toMatchObject({ peerId: 'elsewhere', reason: 'load' })
    expect(appended).toHaveLength(list.length + 1)
  })

  it('counts work sent to a peer against its slots, and the peer as warm, until its next heartbeat', () => {
    const view = new OptimisticView()
    const m = member('node-1', {}, { freeSlots: 2 })
    view.take('node-1', 1, t)
    const [after] = view.apply(scanView([m])).members
    expect(after?.capacity.freeSlots).toBe(1)
    expect(after?.warm['guest/hello@1']).toBe(1)
    // An index-backed view that does not list it yet still yields it as warm for the function.
    const indexed = view.apply({ members: [m], warm: () => [] })
    expect([...indexed.warm('guest/hello@1')].map((x) => x.peerId)).toEqual(['node-1'])
    const [fresh] = view.apply(scanView([{ ...m, seq: 2 }])).members
    expect(fresh?.capacity.freeSlots).toBe(2)
    expect(fresh?.warm['guest/hello@1']).toBeUndefined()
  })

  it('forgets work a peer refused', () => {
    const view = new OptimisticView()
    const m = member('node-1', {}, { freeSlots: 2 })
    view.take('node-1', 1, t)
    view.take('node-1', 1, t)
    view.release('node-1', t)
    const [one] = view.apply(scanView([m])).members
    expect(one?.capacity.freeSlots).toBe(1)
    expect(one?.warm['guest/hello@1']).toBe(1)
    view.release('node-1', t)
    const [none] = view.apply(scanView([m])).members
    expect(none?.capacity.freeSlots).toBe(2)
    expect(none?.warm['guest/hello@1']).toBeUndefined()
  })
})
