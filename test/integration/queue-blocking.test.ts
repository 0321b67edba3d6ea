import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { Client } from '../../cli/client.ts'
import { Cleanup } from '../helpers/agent-process.ts'
import { createCluster, type LocalCluster, waitDeployed } from '../helpers/cluster.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cleanup = new Cleanup()
let cluster: LocalCluster

/**
 * One 256 MiB slot per node, no prewarmed containers: two slots in the cluster. A blocking
 * invocation that queues waits 2 s at most (queue.blockingWaitMs), less than the function's 3 s:
 * one that could not run at once is always answered 202.
 */
const ONE_SLOT = {
  FNAGENT_INVOKER_MEMORY_BUDGET_MIB: '256',
  FNAGENT_INVOKER_PREWARM: '[]',
  FNAGENT_CLUSTER_SUSPECT_MS: '5000',
  FNAGENT_CLUSTER_DEAD_MS: '15000',
  FNAGENT_QUEUE_BLOCKING_WAIT_MS: '2000',
}

const annotation = (r: ActivationRecord, key: string) => r.annotations.find((a) => a.key === key)?.value

beforeAll(async () => {
  cluster = await createCluster(2, cleanup, { env: ONE_SLOT })
  writeFileSync(
    join(cluster.root, 'slow.js'),
    'async function main(p) { await new Promise(r => setTimeout(r, 3000)); return { n: p.n } }\n',
  )
  const r = await cluster.agents[0]!.cli(['fn', 'create', 'slow', join(cluster.root, 'slow.js')])
  expect(r.code, r.stderr).toBe(0)
  await waitDeployed('slow', cluster.agents)
}, 120_000)
afterAll(() => cleanup.run())

describe('blocking invocations when every node is full', () => {
  it('wait in the queue instead of failing NODE_FULL: a result, or a 202 whose id completes later', async () => {
    const a = cluster.agents[0]!
    const client = new Client(a.socket)
    // Six blocking callers at once on two slots, and one more through the CLI.
    const calls = Array.from({ length: 6 }, (_, n) =>
      client.call<ActivationRecord & { queued?: boolean }>('POST', '/v1/functions/slow/invoke', {
        params: { n },
        blocking: true,
      }),
    )
    const viaCli = a.cli(['invoke', 'slow', '-p', 'n', '6'])
    const answers = await Promise.all(calls)
    const cliOut = await viaCli

    // None failed NODE_FULL (nor anything else): the CLI's too.
    expect(cliOut.code, cliOut.stderr).toBe(0)
    expect(cliOut.stdout).toMatch(/^(ok: slow [0-9a-f]{32}|queued: slow [0-9a-f]{32})/)
    for (const r of answers) expect([200, 202], JSON.stringify(r.body)).toContain(r.status)
    const done = answers.filter((r) => r.status === 200).map((r) => r.body)
    for (const rec of done) expect(rec.response.success).toBe(true)
    // More callers than slots, each queued one waited 2 s for a 3 s run: some were answered 202.
    const late = answers.filter((r) => r.status === 202).map((r) => r.body)
    expect(late.length).toBeGreaterThanOrEqual(1)
    for (const b of late) expect(b.queued).toBe(true)

    // Every 202's id completes later, through the queue, with its own parameters.
    for (const b of late) {
      const rec = await waitFor(
        async () => {
          const r = await client.call<ActivationRecord>('GET', `/v1/activations/${b.activationId}`)
          return r.status === 200 ? r.body : null
        },
        { what: `the queued blocking call ${b.activationId} to complete`, timeoutMs: 120_000, everyMs: 500 },
      )
      expect(rec.response.success).toBe(true)
      expect(annotation(rec, 'queue')).toBeDefined()
      const n = answers.findIndex((r) => r.body.activationId === b.activationId)
      expect(rec.response.result).toEqual({ n })
    }
  }, 240_000)
})
