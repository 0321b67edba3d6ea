import { afterEach, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/index.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { code, createReplicated, type ReplNode, storeActivation } from './fixtures.ts'

describe('replication (in process, real libp2p and LevelDB)', () => {
  let stop: (() => Promise<void>) | undefined
  afterEach(async () => {
    await stop?.()
    stop = undefined
  })

  it('a function deployed on A reaches B and C with its code', async () => {
    const c = await createReplicated({ n: 3 })
    stop = c.stop
    const [a, b, cc] = c.nodes as [ReplNode, ReplNode, ReplNode]
    const { record } = await a.functions.put('hello', { kind: 'nodejs:24', code: code('function main(){}') })
    const { copies } = await a.replication.functionWritten(record, Buffer.from('function main(){}'))
    expect(copies).toBe(3)
    for (const n of [b, cc]) {
      const fn = await n.store.functions.get('guest', 'hello')
      expect(fn?.version).toBe(1)
      expect((await n.store.functions.code(fn!))?.toString()).toBe('function main(){}')
    }
  })

  it('with R below the cluster size, code lives on its owners while metadata reaches every node', async () => {
    const c = await createReplicated({ n: 4, options: { replicas: 2 } })
    stop = c.stop
    const a = c.nodes[0]!
    const { record } = await a.functions.put('big', {
      kind: 'nodejs:24',
      code: code('exports.main = () => 1'),
    })
    const owners = a.replication.ownership.blobOwners(record.codeHash!)
    await waitFor(
      async () => {
        for (const n of c.nodes) if (!(await n.store.functions.get('guest', 'big'))) return false
        for (const o of owners) {
          const n = c.nodes.find((x) => x.peerId === o)!
          if (!(await n.store.blobs.has(record.codeHash!))) return false
        }
        return true
      },
      { what: 'metadata everywhere, code on the owners', timeoutMs: 30_000 },
    )
    for (const n of c.nodes) {
      const expected = owners.includes(n.peerId) || n === a
      expect(await n.store.blobs.has(record.codeHash!)).toBe(expected)
    }
    const outsider = c.nodes.find((n) => n !== a && !owners.includes(n.peerId))!
    const fetched = await outsider.replication.code(record, AbortSignal.timeout(5000))
    expect(fetched?.toString()).toBe('exports.main = () => 1')
  })

  it('an activation record stored on A is readable on its owners and from every node', async () => {
    const c = await createReplicated({ n: 4, options: { replicas: 2 } })
    stop = c.stop
    const a = c.nodes[0]!
    const rec = await storeActivation(a)
    const owners = a.replication.ownership.activationOwners(rec.activationId)
    await waitFor(
      async () => {
        for (const o of owners) {
          const n = c.nodes.find((x) => x.peerId === o)!
          if (!(await n.store.activations.get(rec.activationId))) return false
        }
        return true
      },
      { what: 'the record on its owners', timeoutMs: 30_000 },
    )
    for (const n of c.nodes) {
      const got = await n.replication.fetchActivation(rec.activationId, AbortSignal.timeout(5000))
      expect(got?.activationId).toBe(rec.activationId)
    }
    const listed = await c.nodes[3]!.replication.listCluster({ limit: 10 })
    expect(listed.map((r) => r.activationId)).toEqual([rec.activationId])
  })

  it('records and code stay readable after a node stops abruptly', async () => {
    const c = await createReplicated({ n: 4, options: { replicas: 2 } })
    stop = c.stop
    const [a, b, cc, d] = c.nodes as [ReplNode, ReplNode, ReplNode, ReplNode]
    const { record } = await a.functions.put('hello', { kind: 'nodejs:24', code: code('main') })
    const recs: ActivationRecord[] = []
    for (let i = 0; i < 20; i++) recs.push(await storeActivation(a))
    await waitFor(() => a.replication.status().underReplicated === 0, {
      what: 'every record handed off',
      timeoutMs: 30_000,
    })
    await waitFor(
      async () => {
        for (const r of recs) {
          for (const o of a.replication.ownership.activationOwners(r.activationId)) {
            const n = c.nodes.find((x) => x.peerId === o)!
            if (!(await n.store.activations.get(r.activationId))) return false
          }
        }
        return true
      },
      { what: 'every record on its owners', timeoutMs: 30_000 },
    )
    await a.crash() // the node that ran them, received them and holds the code
    for (const n of [b, cc, d]) {
      for (const r of recs) {
        const got = await n.replication.fetchActivation(r.activationId, AbortSignal.timeout(10_000))
        expect(got?.activationId).toBe(r.activationId)
      }
      expect((await n.replication.code(record, AbortSignal.timeout(10_000)))?.toString()).toBe('main')
    }
  })

  it('a new node catches up on functions and the records it owns', async () => {
    const c = await createReplicated({ n: 2 })
    stop = c.stop
    const [a, b] = c.nodes as [ReplNode, ReplNode]
    await a.functions.put('one', { kind: 'nodejs:24', code: code('1') })
    await b.functions.put('two', { kind: 'nodejs:24', code: code('2') })
    for (let i = 0; i < 300; i++) await storeActivation(i % 2 ? a : b)
    const n = await c.add()
    await waitFor(async () => (await n.store.activations.count()) === 300, {
      what: 'every record on the new node',
      timeoutMs: 60_000,
    })
    expect((await n.store.functions.list('guest')).map((f) => f.name)).toEqual(['one', 'two'])
    await waitFor(
      async () => {
        const ds = await Promise.all(c.nodes.map((x) => x.replication.digests()))
        return ds.every((d) => d.functions === ds[0]!.functions && d.activations === ds[0]!.activations)
      },
      { what: 'identical digests', timeoutMs: 30_000 },
    )
    const hash = (await a.store.functions.get('guest', 'one'))!.codeHash!
    await waitFor(() => n.store.blobs.has(hash), {
      what: 'the code blobs it owns (all of them: R = 3 > n)',
      timeoutMs: 30_000,
    })
  })
})
