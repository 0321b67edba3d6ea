import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { Client } from '../../cli/client.ts'
import { type AgentHandle, Cleanup, removeContainersOf } from '../helpers/agent-process.ts'
import { createCluster, type LocalCluster, nodeIdOf, waitDeployed } from '../helpers/cluster.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cleanup = new Cleanup()
let cluster: LocalCluster
let ids: string[]

beforeAll(async () => {
  cluster = await createCluster(3, cleanup, { env: { FNAGENT_INVOKER_PREWARM: '[]' } })
  ids = await Promise.all(cluster.agents.map(nodeIdOf))
  writeFileSync(join(cluster.root, 'notify.js'), 'function main(p) { return { n: p.n } }\n')
  const r = await cluster.agents[0]!.cli(['fn', 'create', 'notify', join(cluster.root, 'notify.js')])
  expect(r.code, r.stderr).toBe(0)
  await waitDeployed('notify', cluster.agents)
}, 120_000)
afterAll(() => cleanup.run())

/** A free loopback port: listened on, then closed (nothing answers there until the receiver starts). */
async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as AddressInfo
  await new Promise((r) => s.close(r))
  return port
}

describe('a completion callback in flight when its node dies', () => {
  it('is delivered by the node that takes over, and the record says so', async () => {
    const victim = cluster.agents[2] as AgentHandle
    const victimId = ids[2]!
    const port = await freePort()
    const url = `http://127.0.0.1:${port}/done`
    const r = await new Client(victim.socket).call<{ activationId: string }>(
      'POST',
      '/v1/functions/notify/invoke',
      {
        params: { n: 7 },
        blocking: false,
        callback: url,
      },
    )
    expect(r.status).toBe(202)
    const { activationId } = r.body
    // The job finished; its callback is being retried (the receiver is down) when the node dies.
    await waitFor(
      () =>
        victim
          .output()
          .split('\n')
          .some((l) => l.includes('"callback not delivered yet"') && l.includes(activationId)),
      { what: 'a failed callback attempt on the node that drives the job', timeoutMs: 60_000 },
    )
    await victim.kill9()
    cleanup.add(() => removeContainersOf(victimId))

    const received: Array<{ record: ActivationRecord; attempt: string | undefined }> = []
    const server = await new Promise<Server>((resolve) => {
      const s = createServer((req, res) => {
        const chunks: Buffer[] = []
        req.on('data', (c: Buffer) => chunks.push(c))
        req.on('end', () => {
          received.push({
            record: JSON.parse(Buffer.concat(chunks).toString('utf8')) as ActivationRecord,
            attempt: req.headers['x-callback-attempt'] as string | undefined,
          })
          res.writeHead(204).end()
        })
      })
      s.listen(port, '127.0.0.1', () => resolve(s))
    })
    cleanup.add(() => new Promise((res) => server.close(res)))

    const got = await waitFor(() => received.find((x) => x.record.activationId === activationId), {
      what: 'the callback delivered by a survivor',
      timeoutMs: 90_000,
      everyMs: 250,
    })
    expect(got.record.response.result).toEqual({ n: 7 })
    const survivor = new Client(cluster.agents[0]!.socket)
    const delivery = await waitFor(
      async () => {
        const rec = await survivor.get<ActivationRecord>(`/v1/activations/${activationId}`)
        const v = rec.annotations.find((a) => a.key === 'callback')?.value as
          | { delivered?: boolean; node?: string; resumed?: { from: string } }
          | undefined
        return v?.delivered ? v : null
      },
      { what: 'the delivery recorded on the record', timeoutMs: 30_000 },
    )
    expect(delivery.resumed?.from).toBe(victimId)
    expect([ids[0], ids[1]]).toContain(delivery.node)
  }, 240_000)
})
