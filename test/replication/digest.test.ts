import { describe, expect, it } from 'vitest'
import { diffEntries, LeafTable } from '../../agent/replication/digest.ts'
import { Ownership, PARTITIONS, partitionName } from '../../agent/replication/owners.ts'

describe('digests (pure)', () => {
  it('a leaf hash does not depend on insertion order, and differing children are found', () => {
    const a = new LeafTable()
    const b = new LeafTable()
    const entries = Array.from({ length: 50 }, (_, i) => [`k${i}`, `v${i}`] as const)
    for (const [k, v] of entries) a.toggle(`a${k.length}`, k, v)
    for (const [k, v] of [...entries].reverse()) b.toggle(`a${k.length}`, k, v)
    expect(a.root()).toBe(b.root())
    b.toggle('f0', 'extra', '1')
    const ca = a.children([''], () => true)
    const cb = b.children([''], () => true)
    expect(Object.keys(cb).filter((k) => ca[k] !== cb[k])).toEqual(['f'])
    b.toggle('f0', 'extra', '1') // toggling twice removes the entry
    expect(b.root()).toBe(a.root())
  })

  it('diffEntries: each side gets what it lacks or holds older (last-writer-wins)', () => {
    const local = new Map([
      ['x', '000000000000001.000000|a'],
      ['y', '000000000000005.000000|a'],
    ])
    const remote = new Map([
      ['x', '000000000000002.000000|b'],
      ['y', '000000000000005.000000|a'],
      ['z', '000000000000001.000000|b'],
    ])
    expect(diffEntries(local, remote)).toEqual({ want: ['x', 'z'], give: [] })
    expect(diffEntries(remote, local)).toEqual({ want: [], give: ['x', 'z'] })
  })

  it('owners: R per partition, the same on every node, all members when fewer than R', () => {
    const members = ['p1', 'p2', 'p3', 'p4', 'p5']
    const a = new Ownership('p1', members, 3)
    const b = new Ownership('p4', [...members].reverse(), 3)
    const load = new Map<string, number>()
    for (let i = 0; i < PARTITIONS; i++) {
      const p = partitionName(i)
      expect(a.partitionOwners(p)).toEqual(b.partitionOwners(p))
      expect(a.partitionOwners(p)).toHaveLength(3)
      for (const o of a.partitionOwners(p)) load.set(o, (load.get(o) ?? 0) + 1)
    }
    for (const n of load.values()) expect(n).toBeGreaterThan(PARTITIONS * 0.45)
    expect(new Ownership('p1', ['p1', 'p2'], 3).partitionOwners('abc')).toHaveLength(2)
  })
})
