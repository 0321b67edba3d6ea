import { afterEach, describe, expect, it } from 'vitest'
import { chunkOf, decoder, FrameReader, FrameWriter } from '../../agent/cluster/frames.ts'
import type { Stream } from '../../agent/cluster/index.ts'
import { REPL_PROTOCOL } from '../../agent/replication/messages.ts'
import { functionRecord } from '../helpers/records.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { activation, code, createReplicated, type ReplNode } from './fixtures.ts'

const MiB = 1024 * 1024

/** Opens a replication channel from `from` to `to`, as a peer (hostile or not) would. */
async function channel(from: ReplNode, to: ReplNode): Promise<Stream> {
  return from.cluster.dialProtocol(to.peerId, REPL_PROTOCOL, AbortSignal.timeout(5000), {
    negotiateFully: true,
  })
}

/** One request on a fresh channel; the decoded answer body. */
async function ask(from: ReplNode, to: ReplNode, body: unknown): Promise<{ type: string; reason?: string }> {
  const stream = await channel(from, to)
  const reader = new FrameReader(64 * MiB)
  const answer = new Promise<{ type: string; reason?: string }>((resolve) => {
    stream.addEventListener('message', (evt) => {
      for (const raw of reader.push(chunkOf(evt.data))) resolve(JSON.parse(decoder.decode(raw)).body)
    })
  })
  await new FrameWriter(stream, 64 * MiB).write({ id: 1, body })
  const got = await answer
  stream.abort(new Error('done'))
  return got
}

describe('replication against a hostile peer', () => {
  let stop: (() => Promise<void>) | undefined
  afterEach(async () => {
    await stop?.()
    stop = undefined
  })

  it('ends a channel whose peer sends requests but stops reading the answers', async () => {
    const c = await createReplicated({ n: 2, options: { maxMessageBytes: 2 * MiB } })
    stop = c.stop
    const [a, b] = c.nodes as [ReplNode, ReplNode]
    const { record } = await a.functions.put('big', {
      kind: 'nodejs:24',
      code: code(`// ${'x'.repeat(MiB - 100)}\nfunction main() {}`),
    })
    const stream = await channel(b, a)
    // b reads nothing: a's answers (1.3 MiB each, 80 MiB in all) can only queue on a's side.
    stream.maxReadBufferLength = 1024 * MiB
    stream.pause()
    let closed = false
    stream.addEventListener('close', () => {
      closed = true
    })
    const writer = new FrameWriter(stream, 2 * MiB)
    for (let id = 1; id <= 60; id++) {
      await writer.write({ id, body: { type: 'blob', hlc: b.clock.now(), hash: record.codeHash } })
    }
    // Bounded: a ends the channel once its queue passes one largest answer plus 8 MiB.
    await waitFor(() => closed, {
      what: 'a to end the channel of a peer that does not read',
      timeoutMs: 30_000,
    })
  })

  it('validates every field of a replicated record: a namespace with a slash cannot alias another key', async () => {
    const c = await createReplicated({ n: 2 })
    stop = c.stop
    const [a, b] = c.nodes as [ReplNode, ReplNode]
    const hlc = b.clock.now()
    const now = b.clock.now()
    const aliased = functionRecord({
      namespace: 'guest/x',
      name: 'y',
      created: now,
      updated: now,
      origin: b.peerId,
    })
    const push = (functions: unknown[], activations: unknown[]) =>
      ask(b, a, { type: 'push', hlc, functions, activations })
    expect(await push([{ record: aliased }], [])).toMatchObject({ type: 'error', reason: 'invalid' })
    expect(await a.store.functions.head('guest/x', 'y')).toBeNull()
    expect(await a.store.functions.head('guest', 'x/y')).toBeNull()

    for (const bad of [
      { namespace: 'guest/x', name: 'y' },
      { name: '../etc' },
      { node: '' },
      { start: -1 },
      { version: 'v'.repeat(1000) },
    ]) {
      const rec = activation(b, bad)
      expect(await push([], [rec]), JSON.stringify(bad)).toMatchObject({ type: 'error', reason: 'invalid' })
      expect(await a.store.activations.get(rec.activationId)).toBeNull()
    }
    const good = activation(b)
    expect(await push([], [good])).toMatchObject({ type: 'ack' })
    expect(await a.store.activations.get(good.activationId)).not.toBeNull()
  })
})
