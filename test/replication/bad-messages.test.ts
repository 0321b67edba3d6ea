import { afterEach, describe, expect, it } from 'vitest'
import { RpcChannels } from '../../agent/cluster/index.ts'
import { REPL_PROTOCOL } from '../../agent/replication/index.ts'
import { sha256 } from '../../agent/store/index.ts'
import type { FunctionRecord } from '../../agent/store/types.ts'
import { functionRecord } from '../helpers/records.ts'
import { activation, createReplicated, type ReplNode } from './fixtures.ts'

/** Sends any JSON value as one replication request from `from` to `to`, unchecked; returns the answer. */
async function raw(from: ReplNode, to: ReplNode, body: unknown): Promise<{ type: string; reason?: string }> {
  const channels = new RpcChannels(from.cluster, REPL_PROTOCOL, { maxBytes: 1024 * 1024 })
  try {
    return (await channels.request(to.peerId, body, AbortSignal.timeout(5000))) as { type: string }
  } finally {
    channels.closeAll()
  }
}

function fnRecord(node: ReplNode, codeHash: string): FunctionRecord {
  const now = node.clock.now()
  return functionRecord({
    name: 'forged',
    codeHash,
    codeSize: 4,
    created: now,
    updated: now,
    origin: node.peerId,
  })
}

describe('replication refuses bad messages', () => {
  let stop: (() => Promise<void>) | undefined
  afterEach(async () => {
    await stop?.()
    stop = undefined
  })

  it('a forged blob, a bad schema, garbage and an expired record change nothing and are counted', async () => {
    const c = await createReplicated({ n: 2, options: { activationRetentionMs: 60_000 } })
    stop = c.stop
    const [a, b] = c.nodes as [ReplNode, ReplNode]
    const hlc = b.clock.now()

    // Code whose bytes do not match the record's hash, next to a valid record: nothing is applied.
    const good = activation(b)
    const forged = await raw(b, a, {
      type: 'push',
      hlc,
      functions: [
        { record: fnRecord(b, sha256(Buffer.from('real'))), code: Buffer.from('evil').toString('base64') },
      ],
      activations: [good],
    })
    expect(forged).toMatchObject({ type: 'error', reason: 'badHash' })
    expect(await a.store.functions.head('guest', 'forged')).toBeNull()
    expect(await a.store.activations.get(good.activationId)).toBeNull()

    // A record that fails the schema, and a body that is not a request.
    const bad = await raw(b, a, {
      type: 'push',
      hlc,
      functions: [],
      activations: [{ ...good, activationId: 'x' }],
    })
    expect(bad).toMatchObject({ type: 'error', reason: 'invalid' })
    expect(await raw(b, a, '{not json')).toMatchObject({
      type: 'error',
      reason: 'invalid',
    })
    expect(await a.store.activations.count()).toBe(0)

    // A record older than the retention period is refused (it would be deleted at once).
    const old = activation(b, { start: Date.now() - 3_600_000 })
    expect(await raw(b, a, { type: 'push', hlc, functions: [], activations: [old] })).toMatchObject({
      type: 'ack',
    })
    expect(await a.store.activations.get(old.activationId)).toBeNull()

    expect(a.replication.status().dropped).toEqual({ badHash: 1, invalid: 2, expired: 1 })
    // The valid record still replicates the normal way.
    await b.store.activations.put(good)
    await b.replication.activationStored(good, 2)
    expect(await a.store.activations.get(good.activationId)).not.toBeNull()
  })
})
