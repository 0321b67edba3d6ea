import { afterEach, describe, expect, it } from 'vitest'
import { isFnError } from '../../agent/errors.ts'
import { FunctionService } from '../../agent/functions/index.ts'
import { silentLogger } from '../../agent/log.ts'
import { formatHlc, HybridClock } from '../../agent/store/hlc.ts'
import { functionRecord } from '../helpers/records.ts'
import { tempStores } from '../helpers/temp-store.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { code, createReplicated, type ReplNode } from './fixtures.ts'

const FIVE_MINUTES = 5 * 60_000

describe('a peer whose clock runs fast', () => {
  let stop: (() => Promise<void>) | undefined
  afterEach(async () => {
    await stop?.()
    stop = undefined
  })

  it('neither wins conflicts on the others nor brings a deleted function back', async () => {
    const c = await createReplicated({
      n: 2,
      wallClock: (i) => (i === 1 ? () => Date.now() + FIVE_MINUTES : undefined),
    })
    stop = c.stop
    const [a, fast] = c.nodes as [ReplNode, ReplNode]
    await a.functions.put('hello', { kind: 'nodejs:24', code: code('v1') })
    await a.functions.put('gone', { kind: 'nodejs:24', code: code('g1') })
    await waitFor(async () => (await fast.store.functions.list('guest')).length === 2, {
      what: 'both on the fast node',
      timeoutMs: 30_000,
    })

    // The fast node updates both; its records are stamped 5 minutes ahead of A's clock.
    await fast.functions.put('hello', { kind: 'nodejs:24', code: code('fast') })
    await fast.functions.put('gone', { kind: 'nodejs:24', code: code('fast') })
    const refusedOrTaken = async () =>
      (a.replication.status().dropped.future ?? 0) >= 2 ||
      (await a.store.functions.head('guest', 'hello'))?.version === 2
    await waitFor(refusedOrTaken, { what: 'the fast pushes reaching A', timeoutMs: 30_000 })

    // A's own update is acknowledged only if it is the head; its delete holds.
    const mine = (await a.functions.put('hello', { kind: 'nodejs:24', code: code('mine') })).record
    expect(await a.store.functions.head('guest', 'hello')).toEqual(mine)
    await a.functions.remove('gone')
    const rounds = (a.replication.status().dropped.future ?? 0) + 4
    await waitFor(
      async () =>
        (a.replication.status().dropped.future ?? 0) >= rounds ||
        !(await a.store.functions.head('guest', 'gone'))?.deleted,
      { what: 'anti-entropy rounds offering the fast records to A', timeoutMs: 30_000 },
    )
    expect((await a.store.functions.head('guest', 'gone'))?.deleted).toBe(true)
    expect(await a.store.functions.head('guest', 'hello')).toEqual(mine)
  })
})

describe('a write that loses by last-writer-wins', () => {
  const stores = tempStores('fnagent-lost-')

  it('is reported to its caller as WRITE_LOST (409), never as a new version', async () => {
    const store = await stores.open()
    const functions = new FunctionService(
      { logger: silentLogger(), store, clock: new HybridClock(), nodeId: 'node-a' },
      { namespace: 'guest', maxCodeBytes: 1024 * 1024 },
    )
    // A head stamped far past this node's clock (taken in before the drift guard, or from a peer
    // whose write landed between this update's read and its write).
    const ahead = formatHlc(Date.now() + FIVE_MINUTES, 0)
    const head = functionRecord({ version: 2, created: ahead, updated: ahead, origin: 'node-b' })
    expect(await store.functions.write(head)).toBe(true)
    const lost = await functions
      .put('hello', { mode: 'update', main: 'other' })
      .then(() => null)
      .catch((err: unknown) => err)
    expect(isFnError(lost) && [lost.code, lost.status]).toEqual(['WRITE_LOST', 409])
    expect(await store.functions.head('guest', 'hello')).toEqual(head)
    const deleted = await functions
      .remove('hello')
      .then(() => null)
      .catch((err: unknown) => err)
    expect(isFnError(deleted) && deleted.code).toBe('WRITE_LOST')
    expect((await store.functions.head('guest', 'hello'))?.deleted).toBeUndefined()
  })
})
