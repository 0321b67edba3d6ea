import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ActivationRepository, Store } from '../../agent/store/index.ts'
import { activationRecord } from '../helpers/records.ts'

// Listings and counts look at a bounded number of index entries, whatever the filter or skip
// (before: `count` loaded every record, and a name matching nothing read the whole store).
describe('activation listings and counts are bounded', () => {
  let dir = ''
  let store: Store
  let bounded: ActivationRepository
  const T0 = 1_700_000_000_000

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fnagent-store-'))
    store = await Store.open(dir)
    // 500 old `rare` records, then 2,500 newer `busy` ones.
    for (let i = 0; i < 3000; i += 500) {
      await store.activations.putManyIfNewer(
        Array.from({ length: 500 }, (_, j) =>
          activationRecord({ name: i === 0 ? 'rare' : 'busy', start: T0 + i + j }),
        ),
      )
    }
    bounded = new ActivationRepository(store.db, { maxScan: 1000 })
    await bounded.open()
  })
  afterAll(async () => {
    await store?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('count on the index alone, and say when they stopped at the bound', async () => {
    expect(await store.activations.countMatching({})).toEqual({ count: 3000, complete: true })
    expect(await store.activations.countMatching({ name: 'rare' })).toEqual({ count: 500, complete: true })
    expect(await store.activations.countMatching({ name: 'guest/busy' })).toEqual({
      count: 2500,
      complete: true,
    })
    expect(await bounded.countMatching({})).toEqual({ count: 1000, complete: false })
    expect(await bounded.countMatching({ name: 'rare' })).toEqual({ count: 0, complete: false })
    expect(await bounded.countMatching({ name: 'rare', upto: T0 + 499 })).toEqual({
      count: 500,
      complete: true,
    })
  })

  it('list newest first, and a filter or skip past the bound finds nothing more', async () => {
    const newest = await store.activations.list({ limit: 2 })
    expect(newest.map((r) => r.start)).toEqual([T0 + 2999, T0 + 2998])
    expect((await store.activations.list({ name: 'rare', limit: 1 }))[0]?.start).toBe(T0 + 499)
    expect(await bounded.list({ name: 'rare', limit: 1 })).toEqual([])
    expect((await bounded.list({ skip: 998, limit: 5 })).map((r) => r.start)).toEqual([T0 + 2001, T0 + 2000])
    expect(await bounded.list({ skip: 5000, limit: 5 })).toEqual([])
  })
})
