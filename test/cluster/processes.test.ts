import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeClusterKey } from '../../agent/cluster/index.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { FAST } from './fixtures/create-cluster.ts'
import { allAlive, type NodeProcess, spawnNode } from './fixtures/processes.ts'
import { rawNode } from './fixtures/raw-node.ts'

const options = { ...FAST, listen: ['/ip4/127.0.0.1/tcp/0'] }

describe('cluster (separate processes)', () => {
  const root = mkdtempSync(join(tmpdir(), 'fnagent-cluster-'))
  const keyFile = join(root, 'cluster.key')
  const cleanup: Array<() => Promise<void>> = []
  const nodes: NodeProcess[] = []
  const start = async (name: string, extra: object = {}) => {
    const n = await spawnNode({ dir: join(root, name), keyFile, options: { ...options, ...extra } })
    cleanup.push(() => n.quit())
    return n
  }

  beforeAll(async () => {
    await writeClusterKey(keyFile)
    for (let i = 0; i < 5; i++) {
      nodes.push(await start(`n${i}`))
      if (i > 0) await nodes[i].send(`join ${nodes[i - 1].addrs[0]}`)
    }
  })

  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => {})
    rmSync(root, { recursive: true, force: true })
  })

  it('five nodes joined in a chain all list all five alive', async () => {
    await waitFor(() => allAlive(nodes), { what: 'every view lists five alive members', timeoutMs: 30_000 })
    const view = await nodes[0].view()
    expect(view).toHaveLength(5)
    expect(view.filter((m) => m.self).map((m) => m.peerId)).toEqual([nodes[0].peerId])
  })

  it("a warm container published by C appears in A's view of C", async () => {
    await nodes[2].send('warm guest/hello@1 2')
    await waitFor(
      async () =>
        (await nodes[0].view()).find((m) => m.peerId === nodes[2].peerId)?.warm['guest/hello@1'] === 2,
      { what: "A's view shows C warm for guest/hello@1", timeoutMs: 15_000 },
    )
  })

  it('a killed node is marked dead, and rejoins on its own when it restarts', async () => {
    const victim = nodes[2]
    await victim.kill9()
    const others = nodes.filter((n) => n !== victim)
    const stateOf = async (n: NodeProcess) => (await n.view()).find((m) => m.peerId === victim.peerId)?.state
    await waitFor(async () => (await Promise.all(others.map(stateOf))).every((s) => s === 'dead'), {
      what: 'the four others mark the killed node dead',
      timeoutMs: 30_000,
    })
    const again = await start('n2') // same identity dir; no join command
    expect(again.peerId).toBe(victim.peerId)
    nodes[2] = again
    await waitFor(() => allAlive(nodes), {
      what: 'the restarted node is alive everywhere and sees everyone',
      timeoutMs: 30_000,
    })
  })

  it('a node that leaves is marked left at once', async () => {
    const leaver = await start('leaver')
    await leaver.send(`join ${nodes[0].addrs[0]}`)
    await waitFor(() => allAlive([...nodes, leaver]), {
      what: 'the new node is alive everywhere',
      timeoutMs: 30_000,
    })
    await leaver.send('leave')
    await waitFor(
      async () => (await nodes[4].view()).find((m) => m.peerId === leaver.peerId)?.state === 'left',
      { what: 'the others mark it left', timeoutMs: 10_000 },
    )
  })

  it('a node with another cluster key cannot connect and sees no peers', async () => {
    const otherKey = join(root, 'other.key')
    await writeClusterKey(otherKey)
    const stranger = await spawnNode({ dir: join(root, 'stranger'), keyFile: otherKey, options })
    cleanup.push(() => stranger.quit())
    await expect(stranger.send(`join ${nodes[0].addrs[0]}`)).rejects.toThrow(/could not connect/)
    expect((await stranger.view()).map((m) => m.peerId)).toEqual([stranger.peerId])
    expect((await nodes[0].view()).some((m) => m.peerId === stranger.peerId)).toBe(false)
  })

  it('garbage, oversized, replayed, spoofed and unsigned messages are dropped and counted', async () => {
    const target = nodes[0]
    const raw = await rawNode({ keyFile, dial: target.addrs[0] })
    cleanup.push(async () => raw.stop())
    const unsigned = await rawNode({ keyFile, dial: target.addrs[0], unsigned: true })
    cleanup.push(async () => unsigned.stop())
    const before = (await target.send<{ dropped: Record<string, number> }>('stats')).dropped
    await raw.publish(new TextEncoder().encode('{not json'))
    await raw.publish(new Uint8Array(100 * 1024).fill(0x20))
    const valid = raw.heartbeat(Date.now())
    await raw.publish(valid)
    await raw.publish(valid) // the same heartbeat again: a replay
    await raw.publish(raw.heartbeat(Date.now() + 1, target.peerId)) // claims to be the target
    await unsigned.publish(raw.heartbeat(Date.now() + 2))
    const grew = (d: Record<string, number>, k: string) => (d[k] ?? 0) > (before[k] ?? 0)
    const stats = await waitFor(
      async () => {
        const s = await target.send<{ dropped: Record<string, number> }>('stats')
        const reasons = ['malformed', 'oversized', 'stale', 'spoofed', 'unsigned']
        return reasons.every((r) => grew(s.dropped, r)) ? s : undefined
      },
      { what: 'the target counts each kind of bad message', timeoutMs: 15_000 },
    )
    expect(stats?.dropped.malformed).toBeGreaterThan(0)
    // The valid one was accepted: the raw node is a member in the target's view, still alive.
    expect((await target.view()).find((m) => m.peerId === raw.peerId)?.state).toBe('alive')
    // Rejected messages are not propagated: the other members counted none of them.
    const elsewhere = await nodes[4].send<{ dropped: Record<string, number> }>('stats')
    expect(elsewhere.dropped.malformed ?? 0).toBe(0)
    expect(elsewhere.dropped.oversized ?? 0).toBe(0)
  })
})
