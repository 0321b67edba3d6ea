import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { Cleanup, cli, startAgent } from '../helpers/agent-process.ts'
import {
  addressOf,
  createCluster,
  type LocalCluster,
  nodeIdOf,
  peersOf,
  waitAllAlive,
} from '../helpers/cluster.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cleanup = new Cleanup()
let cluster: LocalCluster

beforeAll(async () => {
  cluster = await createCluster(3, cleanup)
})
afterAll(() => cleanup.run())

describe('a cluster of agent processes', () => {
  it('lists every member as alive on every node, with capacity', async () => {
    const ids = await Promise.all(cluster.agents.map(nodeIdOf))
    for (const a of cluster.agents) {
      const view = await peersOf(a)
      expect(view.map((m) => m.peerId).sort()).toEqual([...ids].sort())
      expect(view.every((m) => m.state === 'alive')).toBe(true)
      expect(view.find((m) => m.self)?.capacity.budgetMiB).toBeGreaterThan(0)
    }
    const table = await cluster.agents[0]!.cli(['peers'])
    expect(table.stdout).toMatch(/\(self\)\s+\/ip4\/127\.0\.0\.1\/tcp\/\d+\s+alive/)
    const status = JSON.parse((await cluster.agents[0]!.cli(['--json', 'status'])).stdout)
    expect(status.cluster).toMatchObject({ members: 3, alive: 3, dead: 0 })
  })

  it("shows a node's warm container in the other nodes' view of it", async () => {
    const [a] = cluster.agents
    const file = join(cluster.root, 'warm.js')
    writeFileSync(file, 'function main() { return { ok: true } }\n')
    expect((await a!.cli(['fn', 'create', 'warmfn', file])).code).toBe(0)
    const rec = JSON.parse((await a!.cli(['--json', 'invoke', 'warmfn'])).stdout) as ActivationRecord
    expect(rec.response.success).toBe(true)
    for (const other of cluster.agents) {
      await waitFor(
        async () =>
          ((await peersOf(other)).find((m) => m.peerId === rec.node)?.warm['guest/warmfn@1'] ?? 0) > 0,
        { what: `warm container of warmfn on ${rec.node} in the view`, timeoutMs: 30_000, everyMs: 250 },
      )
    }
  })

  it('marks a killed agent dead, and the agent rejoins on its own when restarted', async () => {
    const victim = cluster.agents[2]!
    const id = await nodeIdOf(victim)
    await victim.kill9()
    for (const a of cluster.agents.slice(0, 2)) {
      await waitFor(async () => (await peersOf(a)).find((m) => m.peerId === id)?.state === 'dead', {
        what: 'the killed peer marked dead',
        timeoutMs: 60_000,
        everyMs: 250,
      })
    }
    const again = await startAgent({
      dataDir: victim.dataDir,
      args: ['--cluster-key', cluster.keyFile, '--listen', '/ip4/127.0.0.1/tcp/0'],
    })
    cleanup.add(() => again.stop())
    cluster.agents[2] = again
    expect(await nodeIdOf(again)).toBe(id) // same identity
    await waitAllAlive(cluster.agents, 3) // no join: it rejoined from its persisted peers
  })

  it('refuses an agent with another cluster key', async () => {
    const other = await cli(['cluster', 'init', '--key-file', join(cluster.root, 'other.key')])
    expect(other.code).toBe(0)
    const stranger = await cluster.add('stranger', ['--cluster-key', join(cluster.root, 'other.key')])
    const r = await stranger.cli(['join', await addressOf(cluster.agents[0]!)])
    expect(r.code).not.toBe(0)
    const view = await peersOf(stranger)
    expect(view.map((m) => m.self)).toEqual([true])
    for (const a of cluster.agents) expect((await peersOf(a)).length).toBe(3)
  })
})
