import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FunctionService } from '../../agent/functions/index.ts'
import { silentLogger } from '../../agent/log.ts'
import { Replication } from '../../agent/replication/index.ts'
import { HybridClock } from '../../agent/store/hlc.ts'
import { Store } from '../../agent/store/index.ts'
import { activation, type ReplNode } from './fixtures.ts'

describe('retention (one node)', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const f of cleanup.reverse()) await f()
    cleanup.length = 0
  })

  it('expires records by age and by count, and forgets tombstones after the grace period', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fnagent-retention-'))
    const store = await Store.open(dir)
    cleanup.push(
      () => rm(dir, { recursive: true, force: true }),
      () => store.close(),
    )
    const clock = new HybridClock()
    const replication = new Replication(
      { logger: silentLogger(), store, clock, cluster: null, nodeId: 'self' },
      { activationRetentionMs: 60_000, activationMaxCount: 5, tombstoneGraceMs: 60_000 },
    )
    await replication.start()
    cleanup.push(() => replication.stop())
    const node = { peerId: 'self', clock } as ReplNode
    const now = Date.now()
    const old = activation(node, { start: now - 120_000 })
    const fresh = Array.from({ length: 8 }, (_, i) => activation(node, { start: now - 1000 + i }))
    for (const r of [old, ...fresh]) {
      await store.activations.put(r)
      await replication.activationStored(r)
    }
    // A function deleted two minutes ago (its tombstone carries that time), and one alive.
    const past = new HybridClock({ now: () => now - 120_000 })
    const fns = new FunctionService(
      { logger: silentLogger(), store, clock: past, nodeId: 'self' },
      { namespace: 'guest', maxCodeBytes: 1024 },
    )
    await fns.put('gone', { kind: 'nodejs:24', code: Buffer.from('x').toString('base64') })
    await fns.remove('gone')
    await fns.put('kept', { kind: 'nodejs:24', code: Buffer.from('y').toString('base64') })

    expect(await replication.retention()).toEqual({ expired: 1, trimmed: 3, purged: 1 })
    const left = await store.activations.list({ limit: 100 })
    expect(left.map((r) => r.activationId)).toEqual(
      fresh
        .slice(3)
        .reverse()
        .map((r) => r.activationId),
    )
    expect(await store.functions.head('guest', 'gone')).toBeNull()
    expect(await store.functions.get('guest', 'kept')).not.toBeNull()
    expect(await replication.retention()).toEqual({ expired: 0, trimmed: 0, purged: 0 })
  })
})
