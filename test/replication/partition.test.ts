import { afterEach, describe, expect, it } from 'vitest'
import { compareVersions } from '../../agent/store/hlc.ts'
import type { FunctionRecord } from '../../agent/store/index.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { code, createReplicated, type ReplNode, storeActivation } from './fixtures.ts'

const lww = (r: FunctionRecord) => ({ hlc: r.updated, origin: r.origin })

function partition(left: ReplNode[], right: ReplNode[]): void {
  for (const l of left) for (const r of right) l.cut.add(r.peerId)
  for (const r of right) for (const l of left) r.cut.add(l.peerId)
}

function heal(nodes: ReplNode[]): void {
  for (const n of nodes) n.cut.clear()
}

async function sameDigests(nodes: ReplNode[]): Promise<boolean> {
  const ds = await Promise.all(nodes.map((n) => n.replication.digests()))
  return ds.every((d) => d.functions === ds[0]!.functions && d.activations === ds[0]!.activations)
}

describe('replication across a partition', () => {
  let stop: (() => Promise<void>) | undefined
  afterEach(async () => {
    await stop?.()
    stop = undefined
  })

  it('writes on both sides converge to the same winners after the partition heals', async () => {
    const c = await createReplicated({ n: 3 })
    stop = c.stop
    const [a, b, cc] = c.nodes as [ReplNode, ReplNode, ReplNode]
    await a.functions.put('hello', { kind: 'nodejs:24', code: code('v1') })
    await a.functions.put('gone', { kind: 'nodejs:24', code: code('g1') })
    await waitFor(async () => (await cc.store.functions.list('guest')).length === 2, {
      what: 'both functions on C',
      timeoutMs: 30_000,
    })

    partition([a, b], [cc])
    // The same version number written on both sides, a delete racing an update, records on both sides.
    const left = (await a.functions.put('hello', { kind: 'nodejs:24', code: code('left') })).record
    const right = (await cc.functions.put('hello', { kind: 'nodejs:24', code: code('right') })).record
    expect(left.version).toBe(right.version)
    await a.functions.remove('gone')
    await cc.functions.put('gone', { kind: 'nodejs:24', code: code('g2') })
    const recs = []
    for (let i = 0; i < 30; i++) recs.push(await storeActivation(i % 3 === 2 ? cc : i % 3 === 1 ? b : a))
    await waitFor(async () => (await b.store.functions.head('guest', 'gone'))?.deleted === true, {
      what: 'delete on B',
      timeoutMs: 30_000,
    })
    expect(await sameDigests([a, cc])).toBe(false)

    heal(c.nodes)
    await waitFor(() => sameDigests(c.nodes), { what: 'identical digests everywhere', timeoutMs: 60_000 })
    const winner = compareVersions(lww(left), lww(right)) > 0 ? left : right
    const goneHeads = await Promise.all(c.nodes.map((n) => n.store.functions.head('guest', 'gone')))
    for (const n of c.nodes) {
      const head = await n.store.functions.head('guest', 'hello')
      expect(head).toEqual(winner)
      expect(await n.store.functions.getVersion('guest', 'hello', winner.version)).toEqual(winner)
      expect(await n.store.activations.count()).toBe(30)
    }
    for (const h of goneHeads) expect(h).toEqual(goneHeads[0])
  })
})
