import openwhisk from 'openwhisk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { type AgentHandle, Cleanup } from '../helpers/agent-process.ts'
import { createCluster, type LocalCluster } from '../helpers/cluster.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { owFetch } from './helpers.ts'

/**
 * Issue 18, namespaces per key: two keys in two namespaces on a 3-node cluster (real agent
 * processes, real libp2p, the real `openwhisk` npm client). Each key is created on one node and
 * works on all (keys replicate); neither namespace sees, invokes, reads or deletes the other's
 * actions or activations, through any node.
 */

const cleanup = new Cleanup()
let cluster: LocalCluster
const hosts: string[] = []
let keyA: string
let keyB: string

type Ow = ReturnType<typeof openwhisk>
const clientOf = (host: string, key: string): Ow => openwhisk({ apihost: host, api_key: key })

async function owError(p: Promise<unknown>): Promise<{ statusCode: number; error: { error: string } }> {
  try {
    await p
  } catch (err) {
    return err as { statusCode: number; error: { error: string } }
  }
  throw new Error('expected the call to fail')
}

async function createKey(agent: AgentHandle, namespace: string): Promise<string> {
  const r = await agent.cli(['auth', 'create', '--namespace', namespace])
  if (r.code !== 0) throw new Error(r.stderr)
  expect(r.stderr).toContain(`in namespace ${namespace}`)
  return r.stdout.trim()
}

const code = (tag: string) => `function main(p) { return { tag: '${tag}', v: p.v } }`

beforeAll(async () => {
  cluster = await createCluster(3, cleanup, { args: ['--api-listen', '127.0.0.1:0'] })
  for (const a of cluster.agents) {
    hosts.push(
      await waitFor(
        () =>
          /"url":"(https?:\/\/127\.0\.0\.1:\d+)","msg":"OpenWhisk API listening"/.exec(a.output())?.[1] ?? '',
        { what: 'the OpenWhisk API listener', timeoutMs: 30_000 },
      ),
    )
  }
  const [n0, n1] = cluster.agents as [AgentHandle, AgentHandle]
  keyA = await createKey(n0, 'team-a')
  keyB = await createKey(n1, 'team-b')
}, 180_000)
afterAll(() => cleanup.run())

describe('namespaces per API key on a 3-node cluster', () => {
  it('a key made on one node authenticates on every node, in its own namespace', async () => {
    for (const [n, host] of hosts.entries()) {
      for (const [key, ns] of [
        [keyA, 'team-a'],
        [keyB, 'team-b'],
      ] as const) {
        const list = await waitFor(
          async () => {
            const r = await owFetch(host, key, 'GET', '/api/v1/namespaces')
            return r.status === 200 ? r.body : null
          },
          { what: `the ${ns} key to reach node ${n}`, timeoutMs: 30_000 },
        )
        expect(list, `node ${n}`).toEqual([ns])
      }
    }
    // The key store holds hashes only, on every node; each node lists both keys with their namespace.
    for (const a of cluster.agents) {
      const r = await a.cli(['--json', 'auth', 'list'])
      const keys = JSON.parse(r.stdout) as Array<{ uuid: string; namespace: string; keyHash?: string }>
      expect(keys.find((k) => k.uuid === keyA.split(':')[0])?.namespace).toBe('team-a')
      expect(keys.find((k) => k.uuid === keyB.split(':')[0])?.namespace).toBe('team-b')
      expect(r.stdout).not.toContain(keyA.split(':')[1])
      expect(keys.every((k) => k.keyHash === undefined)).toBe(true)
    }
  })

  it('neither namespace sees, invokes, reads or deletes the other one’s actions and activations, on any node', async () => {
    const a0 = clientOf(hosts[0]!, keyA)
    const b1 = clientOf(hosts[1]!, keyB)
    // The same name in both namespaces: two functions, never one key in LevelDB.
    await a0.actions.create({ name: 'shared-name', action: code('a'), kind: 'nodejs:default' })
    await a0.actions.create({ name: 'only-a', action: code('only-a'), kind: 'nodejs:default' })
    await b1.actions.create({ name: 'shared-name', action: code('b'), kind: 'nodejs:default' })
    await b1.actions.create({ name: 'only-b', action: code('only-b'), kind: 'nodejs:default' })

    const aRuns: string[] = []
    const bRuns: string[] = []
    for (const [n, host] of hosts.entries()) {
      const a = clientOf(host, keyA)
      const b = clientOf(host, keyB)
      // Metadata replicates: each node serves both namespaces' actions once they arrived.
      const listA = await waitFor(
        async () => {
          const l = (await a.actions.list()) as Array<{ name: string; namespace: string }>
          return l.length === 2 ? l : null
        },
        { what: `team-a's actions on node ${n}`, timeoutMs: 30_000 },
      )
      expect(listA.map((x) => x.name).sort()).toEqual(['only-a', 'shared-name'])
      expect(listA.every((x) => x.namespace === 'team-a')).toBe(true)
      const listB = await waitFor(
        async () => {
          const l = (await b.actions.list()) as Array<{ name: string }>
          return l.length === 2 ? l : null
        },
        { what: `team-b's actions on node ${n}`, timeoutMs: 30_000 },
      )
      expect(listB.map((x) => x.name).sort()).toEqual(['only-b', 'shared-name'])

      // Same name, each namespace its own function.
      const ra = (await a.actions.invoke({
        name: 'shared-name',
        blocking: true,
        params: { v: n },
      })) as ActivationRecord
      const rb = (await b.actions.invoke({
        name: 'shared-name',
        blocking: true,
        params: { v: n },
      })) as ActivationRecord
      expect(ra.response.result).toEqual({ tag: 'a', v: n })
      expect(rb.response.result).toEqual({ tag: 'b', v: n })
      expect(ra.namespace).toBe('team-a')
      expect(rb.namespace).toBe('team-b')
      aRuns.push(ra.activationId)
      bRuns.push(rb.activationId)

      // The other namespace's action: not found, whatever the verb (404, not 403).
      for (const [who, other] of [
        [a, 'only-b'],
        [b, 'only-a'],
      ] as const) {
        expect((await owError(who.actions.get({ name: other }))).statusCode, `get on node ${n}`).toBe(404)
        expect(
          (await owError(who.actions.invoke({ name: other, blocking: true }))).statusCode,
          `invoke on node ${n}`,
        ).toBe(404)
        expect((await owError(who.actions.delete({ name: other }))).statusCode, `delete on node ${n}`).toBe(
          404,
        )
      }
      // Naming the other namespace in the path is refused outright, as OpenWhisk's entitlement check.
      const named = await owFetch(host, keyA, 'GET', '/api/v1/namespaces/team-b/actions/only-b')
      expect(named.status).toBe(403)
    }

    // Activations: each namespace reads and lists its own, never the other's, on every node.
    for (const [n, host] of hosts.entries()) {
      const a = clientOf(host, keyA)
      const b = clientOf(host, keyB)
      for (const id of aRuns) {
        const rec = await waitFor(() => a.activations.get({ name: id }).catch(() => null), {
          what: `team-a's activation ${id} on node ${n}`,
          timeoutMs: 30_000,
        })
        expect((rec as ActivationRecord).namespace).toBe('team-a')
        expect((await owError(b.activations.get({ name: id }))).statusCode, `node ${n}`).toBe(404)
        expect((await owError(b.activations.result({ name: id }))).statusCode).toBe(404)
        expect((await owError(b.activations.logs({ name: id }))).statusCode).toBe(404)
      }
      for (const id of bRuns) expect((await owError(a.activations.get({ name: id }))).statusCode).toBe(404)
      const listedA = ((await a.activations.list({ limit: 200 })) as ActivationRecord[]).map(
        (r) => r.activationId,
      )
      const listedB = ((await b.activations.list({ limit: 200 })) as ActivationRecord[]).map(
        (r) => r.activationId,
      )
      expect(
        listedA.filter((id) => bRuns.includes(id)),
        `node ${n}`,
      ).toEqual([])
      expect(
        listedB.filter((id) => aRuns.includes(id)),
        `node ${n}`,
      ).toEqual([])
      expect(listedA.filter((id) => aRuns.includes(id)).length).toBeGreaterThan(0)
    }

    // Nothing of the other's went away: each namespace's actions are all still there, on every node.
    for (const host of hosts) {
      expect(((await clientOf(host, keyA).actions.list()) as unknown[]).length).toBe(2)
      expect(((await clientOf(host, keyB).actions.list()) as unknown[]).length).toBe(2)
    }
  })

  it('the local CLI acts on any namespace with --namespace, and refuses an unknown one', async () => {
    const n2 = cluster.agents[2]!
    const listed = await waitFor(
      async () => {
        const r = await n2.cli(['--json', '--namespace', 'team-a', 'fn', 'list'])
        const fns = JSON.parse(r.stdout) as Array<{ name: string; namespace: string }>
        return fns.length === 2 ? fns : null
      },
      { what: "team-a's functions through the CLI", timeoutMs: 30_000 },
    )
    expect(listed.map((f) => f.name).sort()).toEqual(['only-a', 'shared-name'])
    const inv = await n2.cli(['--namespace', 'team-b', 'invoke', 'shared-name', '-p', 'v', '7', '--result'])
    expect(inv.code, inv.stderr).toBe(0)
    expect(JSON.parse(inv.stdout)).toEqual({ tag: 'b', v: 7 })

    const before = await n2.cli(['--json', 'fn', 'list'])
    const unknown = await n2.cli(['--namespace', 'team-nope', 'fn', 'list'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('[UNKNOWN_NAMESPACE]')
    const put = await n2.cli(['--namespace', 'team-nope', 'fn', 'delete', 'only-a'])
    expect(put.stderr).toContain('[UNKNOWN_NAMESPACE]')
    expect((await n2.cli(['--json', 'fn', 'list'])).stdout).toBe(before.stdout)
    expect(((await clientOf(hosts[2]!, keyA).actions.list()) as unknown[]).length).toBe(2)

    const bad = await n2.cli(['auth', 'create', '--namespace', 'no/slash'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('[INVALID_ARGUMENT]')
  })

  it('a revoked key stops working on every node', async () => {
    const temp = await createKey(cluster.agents[0]!, 'team-a')
    for (const host of hosts) {
      await waitFor(async () => (await owFetch(host, temp, 'GET', '/api/v1/namespaces')).status === 200, {
        what: 'the new key everywhere',
        timeoutMs: 30_000,
      })
    }
    const r = await cluster.agents[1]!.cli(['auth', 'revoke', temp.split(':')[0]!])
    expect(r.code, r.stderr).toBe(0)
    for (const host of hosts) {
      await waitFor(async () => (await owFetch(host, temp, 'GET', '/api/v1/namespaces')).status === 401, {
        what: 'the revocation everywhere',
        timeoutMs: 30_000,
      })
    }
  })
})
