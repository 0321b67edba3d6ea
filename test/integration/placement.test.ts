import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { type AgentHandle, Cleanup } from '../helpers/agent-process.ts'
import { createCluster, type LocalCluster, nodeIdOf, waitDeployed } from '../helpers/cluster.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cleanup = new Cleanup()
let cluster: LocalCluster
let ids: string[]

/** Two 256 MiB slots per node and no prewarmed containers, so that a few activations fill a node. */
const SMALL_NODE = { FNAGENT_INVOKER_MEMORY_BUDGET_MIB: '512', FNAGENT_INVOKER_PREWARM: '[]' }

async function invoke(agent: AgentHandle, name: string, params: string[] = []): Promise<ActivationRecord> {
  const r = await agent.cli(['--json', 'invoke', name, ...params])
  expect(r.stderr).toBe('')
  return JSON.parse(r.stdout) as ActivationRecord
}

function placement(rec: ActivationRecord): { reason: string; receivedBy: string; runnerUp: unknown } {
  return rec.annotations.find((a) => a.key === 'placement')?.value as {
    reason: string
    receivedBy: string
    runnerUp: unknown
  }
}

/** Waits until every node knows the function. */
const deployed = (name: string) => waitDeployed(name, cluster.agents)

beforeAll(async () => {
  cluster = await createCluster(3, cleanup, { env: SMALL_NODE })
  ids = await Promise.all(cluster.agents.map(nodeIdOf))
  writeFileSync(
    join(cluster.root, 'sleep.js'),
    'async function main(p) { await new Promise(r => setTimeout(r, p.ms || 0)); return { ms: p.ms || 0 } }\n',
  )
})
afterAll(() => cleanup.run())

describe('placement across agent processes', () => {
  it('sends an invocation to the node where the function is warm, and the record explains why', async () => {
    const [a] = cluster.agents
    expect((await a!.cli(['fn', 'create', 'warmth', join(cluster.root, 'sleep.js')])).code).toBe(0)
    await deployed('warmth')
    const first = await invoke(a!, 'warmth')
    const warmNode = first.node
    // Wait until every node's view shows the warm container there.
    for (const other of cluster.agents) {
      await waitFor(
        async () => {
          const view = JSON.parse((await other.cli(['--json', 'peers'])).stdout) as Array<{
            peerId: string
            warm: Record<string, number>
          }>
          return (view.find((m) => m.peerId === warmNode)?.warm['guest/warmth@1'] ?? 0) > 0
        },
        { what: 'the warm container in every view', timeoutMs: 30_000 },
      )
    }
    const elsewhere = cluster.agents[ids.findIndex((id) => id !== warmNode)]!
    const rec = await invoke(elsewhere, 'warmth')
    expect(rec.node).toBe(warmNode)
    expect(rec.cold).toBe(false)
    expect(placement(rec).receivedBy).toBe(ids[cluster.agents.indexOf(elsewhere)])
    expect(['warm', 'home']).toContain(placement(rec).reason)
    // The receiving node keeps the record under the same id.
    const got = JSON.parse(
      (await elsewhere.cli(['--json', 'activation', 'get', rec.activationId])).stdout,
    ) as ActivationRecord
    expect(got.activationId).toBe(rec.activationId)
    expect(got.node).toBe(warmNode)
  })

  it('spills work over to the other nodes when the receiving node is full, and all of it succeeds', async () => {
    const [a] = cluster.agents
    expect(
      (await a!.cli(['fn', 'create', 'busy', join(cluster.root, 'sleep.js'), '-p', 'ms', '1500'])).code,
    ).toBe(0)
    await deployed('busy')
    const recs = await Promise.all(Array.from({ length: 6 }, () => invoke(a!, 'busy')))
    expect(recs.every((r) => r.response.success)).toBe(true)
    const nodes = new Set(recs.map((r) => r.node))
    expect(nodes.size).toBeGreaterThanOrEqual(3) // 2 slots per node: six at once need all three
  })
})

describe('a target that dies mid-flight', () => {
  async function longRunningElsewhere(name: string, annotations: string[]) {
    const [a] = cluster.agents
    expect((await a!.cli(['fn', 'create', name, join(cluster.root, 'sleep.js'), ...annotations])).code).toBe(
      0,
    )
    await deployed(name)
    const first = await invoke(a!, name, ['-p', 'ms', '1'])
    const target = first.node
    const caller = cluster.agents[ids.findIndex((id) => id !== target)]!
    const victim = cluster.agents[ids.indexOf(target)]!
    return { caller, victim, target }
  }

  it('reports a whisk internal error naming the lost node', async () => {
    const { caller, victim, target } = await longRunningElsewhere('fragile', [])
    const pending = invoke(caller, 'fragile', ['-p', 'ms', '20000'])
    await waitFor(
      async () => {
        const s = JSON.parse((await victim.cli(['--json', 'status'])).stdout)
        return s.invoker.inflight > 0
      },
      { what: 'the activation to start on the target', timeoutMs: 30_000 },
    )
    await victim.kill9()
    const rec = await pending
    expect(rec.response.status).toBe('whisk internal error')
    expect(JSON.stringify(rec.response.result)).toContain(target)
    cluster.agents[ids.indexOf(target)] = await restart(victim)
  })

  it('retries a retry-safe function on another node', async () => {
    const { caller, victim, target } = await longRunningElsewhere('sturdy', ['-a', 'retry', 'true'])
    const pending = invoke(caller, 'sturdy', ['-p', 'ms', '3000'])
    await waitFor(
      async () => {
        const s = JSON.parse((await victim.cli(['--json', 'status'])).stdout)
        return s.invoker.inflight > 0
      },
      { what: 'the activation to start on the target', timeoutMs: 30_000 },
    )
    await victim.kill9()
    const rec = await pending
    expect(rec.response.success).toBe(true)
    expect(rec.node).not.toBe(target)
    cluster.agents[ids.indexOf(target)] = await restart(victim)
  })
})

async function restart(victim: AgentHandle): Promise<AgentHandle> {
  const { startAgent } = await import('../helpers/agent-process.ts')
  const again = await startAgent({
    dataDir: victim.dataDir,
    args: ['--cluster-key', cluster.keyFile, '--listen', '/ip4/127.0.0.1/tcp/0'],
    env: SMALL_NODE,
  })
  cleanup.add(() => again.stop())
  return again
}
