import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { RpcChannels, RpcError, serveChannel } from '../../agent/cluster/index.ts'
import { silentLogger } from '../../agent/log.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { converged, createCluster, type TestNode } from './fixtures/create-cluster.ts'

const PROTOCOL = '/fnagent/test-channel/1.0.0'
const answerSchema = z.object({ echo: z.number(), from: z.string() })

/** Two joined in-process members; B serves PROTOCOL: waits `delay` ms, then echoes `n`. */
async function pair() {
  const c = await createCluster({ n: 2 })
  const [a, b] = c.nodes as [TestNode, TestNode]
  await b.cluster.join(a.cluster.addresses()[0]!)
  await waitFor(() => converged(c.nodes), { what: 'both alive', timeoutMs: 20_000 })
  let streams = 0
  const handled: number[] = []
  // Served through a wrapper that counts the streams opened to it.
  await serveChannel(
    {
      handle: (protocol, handler) =>
        b.cluster.handle(protocol, (stream, connection) => {
          streams++
          return handler(stream, connection)
        }),
    },
    PROTOCOL,
    async (body, from) => {
      const { n, delay, fail, answerPad } = body as {
        n: number
        delay: number
        fail?: boolean
        answerPad?: number
      }
      await new Promise((r) => setTimeout(r, delay))
      if (fail) throw new Error(`request ${n} failed on purpose`)
      handled.push(n)
      return { echo: n, from, ...(answerPad ? { pad: 'y'.repeat(answerPad) } : {}) }
    },
    {
      maxBytes: 64 * 1024,
      timeoutMs: 10_000,
      maxInflight: 100,
      onBusy: () => ({ busy: true }),
      logger: silentLogger(),
    },
  )
  const channels = new RpcChannels(a.cluster, PROTOCOL, { maxBytes: 64 * 1024 })
  return { c, a, b, channels, handled, streams: () => streams }
}

describe('request channels between members', () => {
  let stop: (() => Promise<void>) | undefined
  afterEach(async () => {
    await stop?.()
    stop = undefined
  })

  it('carries many concurrent requests on one stream, each answered to its own caller', async () => {
    const { c, a, b, channels, handled, streams } = await pair()
    stop = c.stop
    const signal = AbortSignal.timeout(10_000)
    // Later requests finish first: answers come back out of order, each to the right caller.
    const calls = Array.from({ length: 20 }, (_, n) =>
      channels.call(b.cluster.peerId, { n, delay: (20 - n) * 5 }, answerSchema, signal),
    )
    const answers = await Promise.all(calls)
    expect(answers.map((x) => x.echo)).toEqual(Array.from({ length: 20 }, (_, n) => n))
    expect(answers.every((x) => x.from === a.cluster.peerId)).toBe(true)
    expect(handled[0]).toBe(19)
    expect(streams()).toBe(1)
  })

  it('a failing request fails alone; an invalid answer is reported as invalid', async () => {
    const { c, b, channels } = await pair()
    stop = c.stop
    const signal = AbortSignal.timeout(10_000)
    const [ok, failed] = await Promise.allSettled([
      channels.call(b.cluster.peerId, { n: 1, delay: 20 }, answerSchema, signal),
      channels.call(b.cluster.peerId, { n: 2, delay: 0, fail: true }, answerSchema, signal),
    ])
    expect(ok.status === 'fulfilled' && ok.value.echo).toBe(1)
    const err = failed.status === 'rejected' ? (failed.reason as RpcError) : null
    expect(err).toBeInstanceOf(RpcError)
    expect(err?.kind).toBe('stream')
    expect(err?.message).toMatch(/request 2 failed on purpose/)
    await expect(
      channels.call(b.cluster.peerId, { n: 3, delay: 0 }, z.object({ other: z.string() }), signal),
    ).rejects.toMatchObject({ kind: 'invalid' })
  })

  it('a caller that gives up gets a timeout; the channel keeps serving the others', async () => {
    const { c, b, channels } = await pair()
    stop = c.stop
    await expect(
      channels.call(b.cluster.peerId, { n: 1, delay: 500 }, answerSchema, AbortSignal.timeout(50)),
    ).rejects.toMatchObject({ kind: 'stream', message: expect.stringMatching(/did not answer in time/) })
    const next = await channels.call(
      b.cluster.peerId,
      { n: 2, delay: 0 },
      answerSchema,
      AbortSignal.timeout(5000),
    )
    expect(next.echo).toBe(2)
  })

  it('calls waiting on a peer that stops fail as lost (stream); later calls find it unreachable', async () => {
    const { c, b, channels } = await pair()
    stop = c.stop
    const pending = channels.call(
      b.cluster.peerId,
      { n: 1, delay: 5000 },
      answerSchema,
      AbortSignal.timeout(20_000),
    )
    const failure = pending.catch((err: unknown) => err)
    await new Promise((r) => setTimeout(r, 200))
    await b.cluster.stop()
    expect(await failure).toMatchObject({ kind: 'stream' })
    await expect(
      channels.call(b.cluster.peerId, { n: 2, delay: 0 }, answerSchema, AbortSignal.timeout(5000)),
    ).rejects.toMatchObject({ kind: 'unreachable' })
  })

  it('a peer that does not speak the protocol is unreachable, and the error says so', async () => {
    const c = await createCluster({ n: 2 })
    stop = c.stop
    const [a, b] = c.nodes as [TestNode, TestNode]
    await b.cluster.join(a.cluster.addresses()[0]!)
    await waitFor(() => converged(c.nodes), { what: 'both alive', timeoutMs: 20_000 })
    const channels = new RpcChannels(a.cluster, PROTOCOL, { maxBytes: 1024 })
    const err = await channels
      .call(b.cluster.peerId, { n: 1 }, answerSchema, AbortSignal.timeout(5000))
      .catch((e: unknown) => e as RpcError)
    expect(err).toBeInstanceOf(RpcError)
    expect((err as RpcError).kind).toBe('unreachable')
    expect((err as RpcError).unsupported).toBe(true)
  })

  it('oversized requests are refused unsent, oversized answers fail alone, a bad frame ends only its channel', async () => {
    const { c, a, b, channels } = await pair()
    stop = c.stop
    const signal = AbortSignal.timeout(5000)
    await expect(
      channels.call(b.cluster.peerId, { n: 1, delay: 0, pad: 'x'.repeat(100 * 1024) }, answerSchema, signal),
    ).rejects.toMatchObject({ kind: 'invalid', message: expect.stringMatching(/too large/) })
    await expect(
      channels.call(b.cluster.peerId, { n: 2, delay: 0, answerPad: 100 * 1024 }, answerSchema, signal),
    ).rejects.toMatchObject({ kind: 'stream', message: expect.stringMatching(/answer is too large/) })
    expect((await channels.call(b.cluster.peerId, { n: 3, delay: 0 }, answerSchema, signal)).echo).toBe(3)

    // A peer (not our client) announcing a frame over the bound: the server ends that stream.
    const raw = await a.cluster.dialProtocol(b.cluster.peerId, PROTOCOL, signal)
    const closed = new Promise((r) => raw.addEventListener('close', r))
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, 10 * 1024 * 1024)
    raw.send(header)
    await closed
    expect((await channels.call(b.cluster.peerId, { n: 4, delay: 0 }, answerSchema, signal)).echo).toBe(4)
  })
})
