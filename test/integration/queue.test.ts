import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { Client } from '../../cli/client.ts'
import { type AgentHandle, Cleanup, removeContainersOf } from '../helpers/agent-process.ts'
import { createCluster, type LocalCluster, nodeIdOf, waitDeployed } from '../helpers/cluster.ts'
import { type Accepted, submit } from '../helpers/queue.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cleanup = new Cleanup()
let cluster: LocalCluster
let ids: string[]

/**
 * Two 256 MiB slots per node and no prewarmed containers: six slots in the cluster. A failure
 * detector slower than the default (suspect 5 s, dead 15 s), so that a node stalled by a loaded CI
 * machine is not taken for dead (its jobs would then run twice, recorded as takeovers).
 */
const SMALL_NODE = {
  FNAGENT_INVOKER_MEMORY_BUDGET_MIB: '512',
  FNAGENT_INVOKER_PREWARM: '[]',
  FNAGENT_CLUSTER_SUSPECT_MS: '5000',
  FNAGENT_CLUSTER_DEAD_MS: '15000',
}

/** The finished records of `fn` across the cluster (the queued ones are not listed). */
async function finished(agent: AgentHandle, fn: string): Promise<ActivationRecord[]> {
  return new Client(agent.socket).get<ActivationRecord[]>(`/v1/activations?cluster=true&name=${fn}&limit=200`)
}

/** How many times each activation id started running, from the agents' `activation runs` log lines. */
function runsOf(agents: AgentHandle[]): Map<string, number> {
  const runs = new Map<string, number>()
  for (const a of agents) {
    for (const line of a.output().split('\n')) {
      if (!line.includes('"activation runs"')) continue
      const id = /"activationId":"([0-9a-f]{32})"/.exec(line)?.[1]
      if (id) runs.set(id, (runs.get(id) ?? 0) + 1)
    }
  }
  return runs
}

const annotation = (r: ActivationRecord, key: string) => r.annotations.find((a) => a.key === key)?.value

beforeAll(async () => {
  cluster = await createCluster(3, cleanup, { env: SMALL_NODE })
  ids = await Promise.all(cluster.agents.map(nodeIdOf))
  writeFileSync(
    join(cluster.root, 'second.js'),
    'async function main() { await new Promise(r => setTimeout(r, 1000)); return { ok: true } }\n',
  )
  for (const name of ['drain', 'failover']) {
    const r = await cluster.agents[0]!.cli(['fn', 'create', name, join(cluster.root, 'second.js')])
    expect(r.code, r.stderr).toBe(0)
  }
  await waitDeployed('drain', cluster.agents)
  await waitDeployed('failover', cluster.agents)
}, 180_000)
afterAll(() => cleanup.run())

describe('the durable async queue across agent processes', () => {
  it('accepts 200 jobs of a 1 s function on 3 x 2 slots, runs each once, the high priority ones first', async () => {
    const a = cluster.agents[0]!
    const low: Accepted[] = []
    for (let i = 0; i < 190; i++) low.push(await submit(a, 'drain', 0))
    const high: Accepted[] = []
    for (let i = 0; i < 10; i++) high.push(await submit(a, 'drain', 2))
    // Durable before the answer: on this node and at least one owner besides.
    for (const acc of [...low, ...high]) expect(acc.copies).toBeGreaterThanOrEqual(2)

    const recs = await waitFor(
      async () => {
        const list = await finished(a, 'drain')
        return list.length === 200 ? list : null
      },
      { what: '200 finished records', timeoutMs: 300_000, everyMs: 1000 },
    )
    expect(recs.every((r) => r.response.success)).toBe(true)
    // Spread over the cluster's six slots.
    expect(new Set(recs.map((r) => r.node)).size).toBe(3)
    // No job ran twice: one run per id, on whichever node ran it; the only exception is a run a
    // failure forced (a node taken for dead), and then the record names the takeover.
    const runs = runsOf(cluster.agents)
    for (const r of recs) {
      const n = runs.get(r.activationId) ?? 0
      if (n !== 1 || annotation(r, 'takeover')) {
        expect(n, `${r.activationId} ran ${n} times`).toBeGreaterThanOrEqual(1)
        expect(annotation(r, 'takeover'), `${r.activationId} ran ${n} times without a takeover`).toBeDefined()
      }
    }

    // Priority order: once the ten submitted last are all queued, no low one is placed before
    // every high one is (but for an attempt already under way). Counted on placement times, not
    // on how many low jobs were left: under load the 190 accepts take long enough for many low
    // jobs to run before the high ones even arrive (99 of 190 left at load 50-76).
    const byId = new Map(recs.map((r) => [r.activationId, r]))
    const times = (id: string) => {
      const q = annotation(byId.get(id)!, 'queue') as { acceptedAt: number; waitedMs: number }
      return { arrived: q.acceptedAt, placed: q.acceptedAt + q.waitedMs }
    }
    const allHighArrived = Math.max(...high.map((h) => times(h.activationId).arrived))
    const lastHighPlaced = Math.max(...high.map((h) => times(h.activationId).placed))
    const lowBetween = low.filter((l) => {
      const t = times(l.activationId).placed
      return t > allHighArrived && t < lastHighPlaced
    }).length
    expect(lowBetween, 'low-priority jobs placed while high ones waited').toBeLessThanOrEqual(2)
    // And the high ones finish ahead of every low one still waiting when they came.
    const lastHighEnd = Math.max(...high.map((h) => byId.get(h.activationId)!.end))
    const lowWaiting = low.filter((l) => times(l.activationId).placed > allHighArrived).length
    const lowAfter = low.filter((l) => byId.get(l.activationId)!.end > lastHighEnd).length
    expect(lowAfter).toBeGreaterThanOrEqual(lowWaiting - 8)
    const queued = (id: string) => (annotation(byId.get(id)!, 'queue') as { priority: number }).priority
    expect(high.every((h) => queued(h.activationId) === 2)).toBe(true)
  }, 420_000)

  it('kill -9 of the node that accepted 100 queued jobs: all 100 complete on the others', async () => {
    const victimIndex = 2
    const victim = cluster.agents[victimIndex]!
    const victimId = ids[victimIndex]!
    const accepted: Accepted[] = []
    for (let i = 0; i < 100; i++) accepted.push(await submit(victim, 'failover', 0))
    for (const acc of accepted) expect(acc.copies).toBeGreaterThanOrEqual(2)
    await victim.kill9()
    // Its containers outlive it (the survivors' are removed by their own stop).
    cleanup.add(() => removeContainersOf(victimId))
    const survivors = cluster.agents.filter((_, i) => i !== victimIndex)

    const recs = await waitFor(
      async () => {
        const list = await finished(survivors[0]!, 'failover')
        return list.length === 100 ? list : null
      },
      { what: '100 finished records on the survivors', timeoutMs: 300_000, everyMs: 1000 },
    )
    expect(recs.every((r) => r.response.success)).toBe(true)
    expect(recs.map((r) => r.activationId).sort()).toEqual(accepted.map((a) => a.activationId).sort())
    const taken = recs.filter((r) => annotation(r, 'takeover'))
    // The jobs still queued on the victim (most of them) were taken over, and say so.
    expect(taken.length).toBeGreaterThan(50)
    for (const r of taken) {
      expect(r.node).not.toBe(victimId)
      expect((annotation(r, 'takeover') as { from: string }).from).toBe(victimId)
    }
    // A second run happens only where the failure forced it, and that record names the takeover.
    const runs = runsOf(cluster.agents)
    for (const r of recs) {
      const n = runs.get(r.activationId) ?? 0
      expect(n).toBeGreaterThanOrEqual(1)
      if (n > 1) expect(annotation(r, 'takeover'), r.activationId).toBeDefined()
    }
  }, 420_000)
})
