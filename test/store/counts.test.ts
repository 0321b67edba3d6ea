import { describe, expect, it } from 'vitest'
import { activationRecord, functionRecord } from '../helpers/records.ts'
import { tempStores } from '../helpers/temp-store.ts'

// `fnagent status` shows how many functions and records a node holds without reading the store
// (it is what health checks poll, and a full node holds a million records): the counts are kept
// by every write and must match what is on disk, across concurrent writes and a restart.
describe('the counts status shows', () => {
  const stores = tempStores('fnagent-counts-')

  it('count activation records exactly through new writes, rewrites, races, deletes and a reopen', async () => {
    let store = await stores.open()
    const T0 = 1_700_000_000_000
    const a = activationRecord({ start: T0 })
    await store.activations.put(a)
    await store.activations.put({ ...a, end: a.end + 1 }) // the same id again: still one
    expect(await store.activations.count()).toBe(1)
    // Two writes of one new id at once (a push and the local write, say) count once.
    const b = activationRecord({ start: T0 + 1 })
    await Promise.all([store.activations.put(b), store.activations.putManyIfNewer([b])])
    expect(await store.activations.count()).toBe(2)
    await store.activations.putManyIfNewer(
      Array.from({ length: 20 }, (_, i) => activationRecord({ start: T0 + 10 + i })),
    )
    expect(await store.activations.count()).toBe(22)
    const gone = await store.activations.deleteOldest({ max: 5 })
    expect(gone).toHaveLength(5)
    expect(await store.activations.count()).toBe(17)
    store = await stores.reopen()
    expect(await store.activations.count()).toBe(17)
  })

  it('count live functions per namespace through creates, updates, deletes and a reopen', async () => {
    let store = await stores.open()
    await store.functions.write(functionRecord({ name: 'a', version: 1, origin: 'n' }))
    await store.functions.write(functionRecord({ name: 'a', version: 2, origin: 'n' }))
    await store.functions.write(functionRecord({ name: 'b', version: 1, origin: 'n' }))
    await store.functions.write(functionRecord({ namespace: 'team-a', name: 'a', version: 1, origin: 'n' }))
    expect(store.functions.liveCount('guest')).toBe(2)
    expect(store.functions.liveCount('team-a')).toBe(1)
    await store.functions.remove(functionRecord({ name: 'b', version: 2, origin: 'n', deleted: true }))
    expect(store.functions.liveCount('guest')).toBe(1)
    store = await stores.reopen()
    expect(store.functions.liveCount('guest')).toBe(1)
    expect(store.functions.liveCount('team-a')).toBe(1)
  })
})
