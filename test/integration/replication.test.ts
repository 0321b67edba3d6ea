import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationRecord, FunctionRecord } from '../../agent/store/types.ts'
import { type AgentHandle, Cleanup, removeContainersOf } from '../helpers/agent-process.ts'
import { addressOf, createCluster, type LocalCluster, nodeIdOf, waitAllAlive } from '../helpers/cluster.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cleanup = new Cleanup()
let cluster: LocalCluster

async function getRecord(agent: AgentHandle, id: string): Promise<ActivationRecord | null> {
  const r = await agent.cli(['--json', 'activation', 'get', id])
  return r.code === 0 ? (JSON.parse(r.stdout) as ActivationRecord) : null
}

beforeAll(async () => {
  cluster = await createCluster(3, cleanup)
  writeFileSync(join(cluster.root, 'echo.js'), 'function main(p) { return { echo: p.v } }\n')
})
afterAll(() => cleanup.run())

describe('replication across agent processes', () => {
  it('deploys on A and runs from C, and every node can read the record', async () => {
    const [a, b, c] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle]
    const created = await a.cli([
      'fn',
      'create',
      'echo',
      join(cluster.root, 'echo.js'),
      '--wait-replicas',
      '3',
    ])
    expect(created.stdout).toContain('on 3 nodes')
    const onC = JSON.parse((await c.cli(['--json', 'fn', 'get', 'echo'])).stdout) as FunctionRecord
    expect(onC.origin).toBe(await nodeIdOf(a))
    const rec = JSON.parse(
      (await c.cli(['--json', 'invoke', 'echo', '-p', 'v', '1'])).stdout,
    ) as ActivationRecord
    expect(rec.response.result).toEqual({ echo: 1 })
    for (const agent of [a, b, c]) {
      const got = await waitFor(() => getRecord(agent, rec.activationId), {
        what: 'the record on every node',
        timeoutMs: 30_000,
      })
      expect(got.response.result).toEqual({ echo: 1 })
    }
    const merged = JSON.parse(
      (await b.cli(['--json', 'activation', 'list', '--cluster', '--fn', 'echo'])).stdout,
    ) as ActivationRecord[]
    expect(merged.map((r) => r.activationId)).toContain(rec.activationId)
  })

  it('keeps records readable and the function running after a kill -9 of the node that ran it', async () => {
    const ids = await Promise.all(cluster.agents.map(nodeIdOf))
    const [a] = cluster.agents
    const recs: ActivationRecord[] = []
    for (let i = 0; i < 5; i++)
      recs.push(JSON.parse((await a!.cli(['--json', 'invoke', 'echo', '-p', 'v', String(i)])).stdout))
    const runner = recs[0]!.node
    const others = cluster.agents.filter((_, i) => ids[i] !== runner)
    // Every record has reached the other nodes (pushed to owners, fetched on demand otherwise).
    for (const agent of others)
      for (const r of recs)
        await waitFor(() => getRecord(agent, r.activationId), {
          what: 'record replicated',
          timeoutMs: 30_000,
        })
    await cluster.agents[ids.indexOf(runner)]!.kill9()
    cleanup.add(() => removeContainersOf(runner)) // never restarted: nobody else would remove them
    for (const agent of others) {
      for (const r of recs) {
        const got = await waitFor(() => getRecord(agent, r.activationId), {
          what: `record ${r.activationId} after the kill`,
          timeoutMs: 30_000,
        })
        expect(got.response.result).toEqual(r.response.result)
      }
    }
    await waitFor(
      async () => {
        const view = JSON.parse((await others[0]!.cli(['--json', 'peers'])).stdout) as Array<{
          peerId: string
          state: string
        }>
        return view.find((m) => m.peerId === runner)?.state === 'dead'
      },
      { what: 'the runner marked dead', timeoutMs: 60_000, everyMs: 250 },
    )
    const again = JSON.parse(
      (await others[0]!.cli(['--json', 'invoke', 'echo', '-p', 'v', 'after'])).stdout,
    ) as ActivationRecord
    expect(again.response.result).toEqual({ echo: 'after' })
    expect(again.node).not.toBe(runner)
  })

  it('lets a new node catch up on functions and records', async () => {
    const alive = []
    for (const a of cluster.agents) if (a.proc.exitCode === null && a.proc.signalCode === null) alive.push(a)
    const newcomer = await cluster.add('newcomer')
    expect((await newcomer.cli(['join', await addressOf(alive[0]!)])).code).toBe(0)
    await waitAllAlive([...alive, newcomer], alive.length + 1)
    await waitFor(async () => (await newcomer.cli(['fn', 'get', 'echo'])).code === 0, {
      what: 'the function on the newcomer',
      timeoutMs: 60_000,
      everyMs: 250,
    })
    const listed = JSON.parse(
      (await alive[0]!.cli(['--json', 'activation', 'list', '--fn', 'echo', '--limit', '200'])).stdout,
    ) as ActivationRecord[]
    const rec = JSON.parse(
      (await newcomer.cli(['--json', 'invoke', 'echo', '-p', 'v', 'new'])).stdout,
    ) as ActivationRecord
    expect(rec.response.result).toEqual({ echo: 'new' })
    // With one node dead, three are live and R = 3: the newcomer owns every record and pulls them
    // into its own store (a plain list reads only the local store).
    const wanted = new Set(listed.map((r) => r.activationId))
    await waitFor(
      async () => {
        const local = JSON.parse(
          (await newcomer.cli(['--json', 'activation', 'list', '--fn', 'echo', '--limit', '200'])).stdout,
        ) as ActivationRecord[]
        const have = new Set(local.map((r) => r.activationId))
        return [...wanted].every((id) => have.has(id))
      },
      { what: 'the newcomer to hold every record locally', timeoutMs: 90_000, everyMs: 500 },
    )
  })
})
