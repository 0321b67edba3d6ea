import { describe, expect, it } from 'vitest'
import { FunctionService } from '../../agent/functions/index.ts'
import { silentLogger } from '../../agent/log.ts'
import { HybridClock } from '../../agent/store/hlc.ts'
import { sha256 } from '../../agent/store/index.ts'
import type { FunctionRecord } from '../../agent/store/types.ts'
import { functionRecord } from '../helpers/records.ts'
import { tempStores } from '../helpers/temp-store.ts'

const clock = new HybridClock()

function version(n: number, text: string, extra: Partial<FunctionRecord> = {}) {
  const code = new TextEncoder().encode(text)
  const now = clock.now()
  const record = functionRecord({
    version: n,
    codeHash: sha256(code),
    codeSize: code.byteLength,
    origin: 'node-a',
    created: now,
    updated: now,
    ...extra,
  })
  return { record, code }
}

describe('writes of one function under races', () => {
  const stores = tempStores('fnagent-race-')

  it('concurrent writes never leave an older version at the head', async () => {
    const store = await stores.open()
    for (let run = 0; run < 30; run++) {
      const name = `f${run}`
      const v1 = version(1, `v1 ${run}`, { name })
      const v2 = version(2, `v2 ${run}`, { name })
      const v3 = version(3, `v3 ${run}`, { name })
      await store.functions.write(v1.record, v1.code)
      // The newest first, as a push and a forwarded invocation can race in the field.
      await Promise.all([
        store.functions.write(v3.record, v3.code),
        store.functions.write(v2.record, v2.code),
      ])
      expect((await store.functions.head('guest', name))?.version, `run ${run}`).toBe(3)
      // Anti-entropy offering the winner again changes nothing and answers that.
      expect(await store.functions.write(v3.record)).toBe(false)
      expect((await store.functions.head('guest', name))?.version).toBe(3)
    }
  })

  it('a delete racing a newer update does not delete it', async () => {
    const store = await stores.open()
    const v1 = version(1, 'v1')
    await store.functions.write(v1.record, v1.code)
    const tombstone = version(2, '', { deleted: true, codeHash: undefined, codeSize: 0 }).record
    delete tombstone.codeHash
    const v3 = version(3, 'v3')
    const [, removed] = await Promise.all([
      store.functions.merge(v3.record, v3.code),
      store.functions.remove(tombstone),
    ])
    expect(removed).toBe(false)
    const head = await store.functions.head('guest', 'hello')
    expect(head?.version).toBe(3)
    expect(head?.deleted).toBeUndefined()
    expect(await store.functions.code(head!)).toEqual(Buffer.from(v3.code))
  })

  it('concurrent local updates each get their own version, in order, and all succeed', async () => {
    const store = await stores.open()
    const functions = new FunctionService(
      { logger: silentLogger(), store, clock: new HybridClock(), nodeId: 'node-a' },
      { namespace: 'guest', maxCodeBytes: 1024 * 1024 },
    )
    const code = (t: string) => Buffer.from(t).toString('base64')
    await functions.put('hello', { kind: 'nodejs:24', code: code('v1') })
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => functions.put('hello', { mode: 'update', code: code(`u${i}`) })),
    )
    const versions = results.map((r) => r.record.version).sort((a, b) => a - b)
    expect(versions).toEqual([2, 3, 4, 5, 6, 7, 8, 9])
    const last = results.find((r) => r.record.version === 9)!.record
    expect(await store.functions.head('guest', 'hello')).toEqual(last)
  })
})
