import { describe, expect, it } from 'vitest'
import { sha256 } from '../../agent/store/index.ts'
import { DEFAULT_LIMITS, type FunctionRecord } from '../../agent/store/types.ts'
import { functionRecord } from '../helpers/records.ts'
import { tempStores } from '../helpers/temp-store.ts'

function version(n: number, code: Uint8Array, extra: Partial<FunctionRecord> = {}): FunctionRecord {
  return functionRecord({
    version: n,
    codeHash: sha256(code),
    codeSize: code.byteLength,
    origin: 'node-a',
    ...extra,
  })
}

describe('function store (heads and code kept in memory)', () => {
  const stores = tempStores('fnagent-store-')

  it('reads see every update, delete and purge, and survive a reopen from disk', async () => {
    let store = await stores.open()
    const v1code = new TextEncoder().encode('function main() { return { v: 1 } }')
    const v2code = new TextEncoder().encode('function main() { return { v: 2 } }')
    const v1 = version(1, v1code)
    expect(await store.functions.get('guest', 'hello')).toBeNull()
    expect(await store.functions.write(v1, v1code)).toBe(true)
    expect((await store.functions.get('guest', 'hello'))?.version).toBe(1)
    expect((await store.blobs.get(v1.codeHash!))?.toString()).toContain('v: 1')
    // The same version again (as a forwarded invocation carries it) changes nothing.
    expect(await store.functions.write(v1)).toBe(false)

    const v2 = version(2, v2code)
    expect(await store.functions.write(v2, v2code)).toBe(true)
    const head = await store.functions.get('guest', 'hello')
    expect(head?.version).toBe(2)
    // Callers get a record they cannot corrupt for the next reader.
    expect(() => {
      ;(head as { limits: { memory: number } }).limits.memory = 1
    }).toThrow()
    expect((await store.functions.get('guest', 'hello'))?.limits.memory).toBe(DEFAULT_LIMITS.memory)

    const tombstone = version(3, new Uint8Array(), { deleted: true, codeHash: undefined, codeSize: 0 })
    await store.functions.remove(tombstone)
    expect(await store.functions.get('guest', 'hello')).toBeNull()
    expect((await store.functions.head('guest', 'hello'))?.deleted).toBe(true)
    expect(await store.blobs.get(v1.codeHash!)).toBeNull()
    expect(await store.blobs.has(v2.codeHash!)).toBe(false)
    expect(await store.functions.purgeTombstone(tombstone)).toBe(true)
    expect(await store.functions.head('guest', 'hello')).toBeNull()

    // A new version after the purge, then a reopen: what is on disk is what was read.
    const v4 = version(4, v2code)
    await store.functions.write(v4, v2code)
    store = await stores.reopen()
    expect((await store.functions.get('guest', 'hello'))?.version).toBe(4)
    expect((await store.blobs.get(v4.codeHash!))?.toString()).toContain('v: 2')
  })

  it('the code of a same-version write that lost (last writer wins) is freed', async () => {
    const store = await stores.open()
    const mine = new TextEncoder().encode('function main() { return { who: "a" } }')
    const theirs = new TextEncoder().encode('function main() { return { who: "b" } }')
    const a = version(1, mine)
    const b = version(1, theirs, { origin: 'node-b' }) // written later: it wins
    await store.functions.write(a, mine)
    expect(await store.functions.write(b, theirs)).toBe(true)
    expect((await store.functions.get('guest', 'hello'))?.codeHash).toBe(b.codeHash)
    expect(await store.blobs.has(a.codeHash!)).toBe(false)
    expect(await store.blobs.has(b.codeHash!)).toBe(true)
    // The loser arriving again (a late replica) changes nothing.
    expect(await store.functions.write(a, mine)).toBe(false)
    expect(await store.blobs.has(a.codeHash!)).toBe(false)
  })
})
