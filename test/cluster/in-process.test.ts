import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait-for.ts'
import { converged, createCluster } from './fixtures/create-cluster.ts'

describe('cluster (in process)', () => {
  let stop: (() => Promise<void>) | undefined
  afterEach(async () => {
    await stop?.()
    stop = undefined
  })

  it('three nodes joined in a chain all see each other, with capacity', async () => {
    const c = await createCluster({ n: 3 })
    stop = c.stop
    const [a, b, cc] = c.nodes
    await b.cluster.join(a.cluster.addresses()[0])
    await cc.cluster.join(b.cluster.addresses()[0])
    await waitFor(() => converged(c.nodes), { what: 'all three alive in every view', timeoutMs: 20_000 })
    const viewOfC = a.cluster.member(cc.cluster.peerId)!
    expect(viewOfC.capacity.cpus).toBeGreaterThan(0)
    expect(viewOfC.capacity.memTotalMiB).toBeGreaterThan(0)
    expect(viewOfC.addrs[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
    expect(a.cluster.view().filter((m) => m.self)).toHaveLength(1)
  })

  it("twelve nodes on one host (past gossipsub's 10-peers-per-IP penalty) converge", async () => {
    const c = await createCluster({ n: 12 })
    stop = c.stop
    // Twelve libp2p nodes share this one test process: on a loaded machine a dial can take longer
    // than the agent's own dial timeout, so the test gives each join more.
    for (let i = 1; i < 12; i++)
      await c.nodes[i].cluster.join(c.nodes[i - 1].cluster.addresses()[0], AbortSignal.timeout(30_000))
    await waitFor(() => converged(c.nodes), { what: 'all twelve alive in every view', timeoutMs: 60_000 })
    expect(c.nodes[0].cluster.stats().meshPeers).toBeGreaterThan(0)
  })

  it('other services open streams to a member by peer id, and warm changes are published', async () => {
    const c = await createCluster({ n: 3 })
    stop = c.stop
    const [a, b, cc] = c.nodes
    await b.cluster.join(a.cluster.addresses()[0])
    await cc.cluster.join(b.cluster.addresses()[0])
    await waitFor(() => converged(c.nodes), { what: 'all three alive', timeoutMs: 20_000 })
    await cc.cluster.handle('/fnagent/echo/1.0.0', async (stream) => {
      for await (const chunk of stream) stream.send(chunk)
      await stream.close()
    })
    const stream = await a.cluster.dialProtocol(
      cc.cluster.peerId,
      '/fnagent/echo/1.0.0',
      AbortSignal.timeout(5000),
    )
    stream.send(new TextEncoder().encode('ping'))
    let echoed = ''
    for await (const chunk of stream) {
      echoed += new TextDecoder().decode(chunk.subarray())
      if (echoed.length >= 4) break
    }
    expect(echoed).toBe('ping')

    const changes: string[] = []
    const off = a.cluster.onChange((m) => {
      if (m.peerId === cc.cluster.peerId && m.warm['guest/hello@1']) changes.push(m.peerId)
    })
    cc.state.warm['guest/hello@1'] = 1
    cc.cluster.publishNow()
    await waitFor(() => a.cluster.member(cc.cluster.peerId)?.warm['guest/hello@1'] === 1, {
      what: 'A sees C warm',
      timeoutMs: 10_000,
    })
    expect(changes.length).toBeGreaterThan(0)
    off()
  })
})
