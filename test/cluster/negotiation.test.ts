// Protocol versions are negotiated per channel, not assumed: a member that speaks a newer version
// and an older one talks the newer with a peer that has it and the older with a peer of the
// previous release (which never heard of the newer id); a peer with no version in common is
// refused before anything is sent. Real libp2p members over TCP on loopback.
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { RpcChannels, RpcError, serveChannel } from '../../agent/cluster/index.ts'
import { silentLogger } from '../../agent/log.ts'
import { FORWARD_PROTOCOLS } from '../../agent/placement/messages.ts'
import { REPL_PROTOCOLS } from '../../agent/replication/messages.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { converged, createCluster, type TestNode } from './fixtures/create-cluster.ts'

const OLD = '/fnagent/test-negotiation/1.1.0'
const NEW = '/fnagent/test-negotiation/1.2.0'
const answer = z.object({ n: z.number(), servedAs: z.string() })
const serveOpts = {
  maxBytes: 64 * 1024,
  timeoutMs: 10_000,
  maxInflight: 10,
  onBusy: () => ({ busy: true }),
  logger: silentLogger(),
}

describe('protocol negotiation', () => {
  let stop: (() => Promise<void>) | undefined
  afterEach(async () => {
    await stop?.()
    stop = undefined
  })

  it('the newest version both speak: new with new, old with the previous release', async () => {
    const c = await createCluster({ n: 3 })
    stop = c.stop
    const [a, b, old] = c.nodes as [TestNode, TestNode, TestNode]
    await b.cluster.join(a.cluster.addresses()[0]!)
    await old.cluster.join(a.cluster.addresses()[0]!)
    await waitFor(() => converged(c.nodes), { what: 'three alive', timeoutMs: 30_000 })
    const echo = async (body: unknown, _from: string, _signal: AbortSignal, protocol: string) => ({
      n: (body as { n: number }).n,
      servedAs: protocol,
    })
    // b is of the new release (both versions), `old` of the previous one (only 1.1.0).
    await serveChannel(b.cluster, [NEW, OLD], echo, serveOpts)
    await serveChannel(old.cluster, [OLD], echo, serveOpts)
    await serveChannel(a.cluster, [NEW, OLD], echo, serveOpts)
    const signal = AbortSignal.timeout(20_000)

    const fromNew = new RpcChannels(a.cluster, [NEW, OLD], { maxBytes: 64 * 1024 })
    expect(await fromNew.protocolOf(b.cluster.peerId, signal)).toBe(NEW)
    expect(await fromNew.protocolOf(old.cluster.peerId, signal)).toBe(OLD)
    expect(await fromNew.call(b.cluster.peerId, { n: 1 }, answer, signal)).toEqual({ n: 1, servedAs: NEW })
    expect(await fromNew.call(old.cluster.peerId, { n: 2 }, answer, signal)).toEqual({ n: 2, servedAs: OLD })

    // The previous release dials the only version it knows; the new member answers in it.
    const fromOld = new RpcChannels(old.cluster, [OLD], { maxBytes: 64 * 1024 })
    expect(await fromOld.call(a.cluster.peerId, { n: 3 }, answer, signal)).toEqual({ n: 3, servedAs: OLD })

    // No version in common: refused while negotiating, nothing sent.
    const fromFuture = new RpcChannels(a.cluster, ['/fnagent/test-negotiation/2.0.0'], {
      maxBytes: 64 * 1024,
    })
    const err = await fromFuture.call(old.cluster.peerId, { n: 4 }, answer, signal).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RpcError)
    expect((err as RpcError).kind).toBe('unreachable')
  }, 60_000)

  it("the agent's protocols are lists of versions, newest first, on the current ids", () => {
    expect(FORWARD_PROTOCOLS[0]).toBe('/fnagent/invoke/1.1.0')
    expect(REPL_PROTOCOLS[0]).toBe('/fnagent/repl/1.1.0')
  })
})
