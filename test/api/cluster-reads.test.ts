import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { type AgentHandle, Cleanup } from '../helpers/agent-process.ts'
import { createCluster, type LocalCluster } from '../helpers/cluster.ts'
import { apiOf, owFetch } from './helpers.ts'

const cleanup = new Cleanup()
let cluster: LocalCluster
const hosts: string[] = []
const keys: string[] = []

beforeAll(async () => {
  // One owner per record: most records are on one or two of the three nodes, not on all.
  cluster = await createCluster(3, cleanup, {
    args: ['--api-listen', '127.0.0.1:0'],
    env: { FNAGENT_REPLICATION_REPLICAS: '1' },
  })
  for (const a of cluster.agents) {
    const { host, key } = await apiOf(a)
    hosts.push(host)
    keys.push(key)
  }
  writeFileSync(join(cluster.root, 'echo.js'), 'function main(p) { return { echo: p.v } }\n')
}, 180_000)
afterAll(() => cleanup.run())

describe('the OpenWhisk REST API reads for the cluster', () => {
  it('answers activation get, result and logs on every node, and lists the same records everywhere', async () => {
    const [a] = cluster.agents as [AgentHandle]
    const created = await a.cli([
      'fn',
      'create',
      'echo',
      join(cluster.root, 'echo.js'),
      '--wait-replicas',
      '3',
    ])
    expect(created.code, created.stderr).toBe(0)
    const ids: string[] = []
    for (let i = 0; i < 8; i++) {
      const r = await owFetch(
        hosts[0]!,
        keys[0]!,
        'POST',
        '/api/v1/namespaces/_/actions/echo?blocking=true',
        { v: i },
      )
      expect(r.status).toBe(200)
      ids.push((r.body as ActivationRecord).activationId)
    }
    for (const [n, host] of hosts.entries()) {
      for (const [i, id] of ids.entries()) {
        const base = `/api/v1/namespaces/_/activations/${id}`
        const rec = await owFetch(host, keys[n]!, 'GET', base)
        expect(rec.status, `node ${n}, activation ${id}`).toBe(200)
        expect((rec.body as ActivationRecord).response.result).toEqual({ echo: i })
        const result = await owFetch(host, keys[n]!, 'GET', `${base}/result`)
        expect(result.body).toMatchObject({ result: { echo: i }, success: true })
        expect((await owFetch(host, keys[n]!, 'GET', `${base}/logs`)).status).toBe(200)
      }
      const list = await owFetch(host, keys[n]!, 'GET', '/api/v1/namespaces/_/activations?limit=200')
      const listed = (list.body as ActivationRecord[]).map((r) => r.activationId)
      expect(listed.filter((id) => ids.includes(id)).sort(), `node ${n} lists every record`).toEqual(
        [...ids].sort(),
      )
    }
    const missing = await owFetch(
      hosts[1]!,
      keys[1]!,
      'GET',
      `/api/v1/namespaces/_/activations/${'0'.repeat(32)}`,
    )
    expect(missing.status).toBe(404)
  })
})
