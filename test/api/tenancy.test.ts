import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
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
let keySys: string

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
  keySys = await createKey(cluster.agents[2]!, 'sys')
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

const ECHO = 'function main(p) { return p }'

describe('packages and bindings across namespaces', () => {
  it('merges package parameters under the action and the invocation, on every node', async () => {
    const a0 = clientOf(hosts[0]!, keyA)
    await a0.packages.create({
      name: 'tools',
      package: {
        parameters: [
          { key: 'greeting', value: 'hi' },
          { key: 'who', value: 'pkg' },
        ],
      },
    })
    await a0.actions.create({
      name: 'tools/greet',
      action: ECHO,
      kind: 'nodejs:default',
      params: { who: 'action', mine: true },
    } as never)
    for (const [n, host] of hosts.entries()) {
      const a = clientOf(host, keyA)
      const out = await waitFor(
        () =>
          a.actions
            .invoke({ name: 'tools/greet', blocking: true, result: true, params: { v: n } })
            .catch(() => null),
        { what: `tools/greet on node ${n}`, timeoutMs: 30_000 },
      )
      expect(out).toEqual({ greeting: 'hi', who: 'action', mine: true, v: n })
      const pkg = (await a.packages.get({ name: 'tools' })) as {
        actions: Array<{ name: string }>
        binding: object
      }
      expect(pkg.actions.map((x) => x.name)).toEqual(['greet'])
      expect(pkg.binding).toEqual({})
      // Another namespace sees nothing of it.
      const b = clientOf(host, keyB)
      expect((await owError(b.packages.get({ name: 'tools' }))).statusCode).toBe(404)
      expect(((await b.packages.list()) as Array<{ name: string }>).map((x) => x.name)).not.toContain('tools')
      expect((await owError(b.actions.invoke({ name: 'tools/greet', blocking: true }))).statusCode).toBe(404)
    }
  })

  it('a binding to a shared package of another namespace runs its actions with merged parameters', async () => {
    const sys = clientOf(hosts[2]!, keySys)
    await sys.packages.create({
      name: 'shared',
      package: {
        publish: true,
        parameters: [
          { key: 'a', value: 1 },
          { key: 'b', value: 1 },
        ],
      },
    })
    await sys.actions.create({ name: 'shared/echo', action: ECHO, kind: 'nodejs:default' })
    await sys.packages.create({ name: 'private', package: { publish: false } })

    // team-b binds on node 0 (the shared package was written on node 2: it must have replicated).
    const b0 = clientOf(hosts[0]!, keyB)
    await waitFor(
      () =>
        b0.packages
          .create({
            name: 'mybind',
            package: { binding: { namespace: 'sys', name: 'shared' }, parameters: [{ key: 'b', value: 2 }] },
          })
          .catch(() => null),
      { what: 'the binding to /sys/shared', timeoutMs: 30_000 },
    )
    for (const [n, host] of hosts.entries()) {
      const b = clientOf(host, keyB)
      const out = await waitFor(
        () =>
          b.actions
            .invoke({ name: 'mybind/echo', blocking: true, result: true, params: { c: n } })
            .catch(() => null),
        { what: `mybind/echo on node ${n}`, timeoutMs: 30_000 },
      )
      expect(out, `node ${n}`).toEqual({ a: 1, b: 2, c: n })
      const bound = (await b.packages.get({ name: 'mybind' })) as {
        binding: object
        actions: Array<{ name: string }>
      }
      expect(bound.binding).toEqual({ namespace: 'sys', name: 'shared' })
      expect(bound.actions.map((x) => x.name)).toEqual(['echo'])
      // team-a has no such binding.
      const a = clientOf(host, keyA)
      expect((await owError(a.actions.invoke({ name: 'mybind/echo', blocking: true }))).statusCode).toBe(404)
    }
  })

  it('refuses bad bindings and package operations with OpenWhisk messages, storing nothing', async () => {
    const b1 = clientOf(hosts[1]!, keyB)
    const before = JSON.stringify(await b1.packages.list())
    const bad = async (binding: { namespace: string; name: string }, name = 'bad') =>
      owError(b1.packages.create({ name, package: { binding } }))
    const missing = await bad({ namespace: 'sys', name: 'nope' })
    expect(missing.statusCode).toBe(400)
    expect(missing.error.error).toBe('Binding references a package that does not exist.')
    // Another namespace's unpublished package is as good as missing.
    expect((await bad({ namespace: 'sys', name: 'private' })).error.error).toBe(
      'Binding references a package that does not exist.',
    )
    expect((await bad({ namespace: 'team-a', name: 'tools' })).error.error).toBe(
      'Binding references a package that does not exist.',
    )
    // A binding to a binding is refused, so no chain (and no cycle) can form.
    const chain = await bad({ namespace: '_', name: 'mybind' })
    expect(chain.statusCode).toBe(400)
    expect(chain.error.error).toBe('Cannot bind to another package binding.')
    const self = await bad({ namespace: 'team-b', name: 'selfish' }, 'selfish')
    expect(self.error.error).toBe("Package binding 'selfish' contains a circular reference.")
    await b1.packages.create({ name: 'plain', package: {} })
    const become = await owError(
      b1.packages.update({ name: 'plain', package: { binding: { namespace: 'sys', name: 'shared' } } }),
    )
    expect(become.error.error).toBe('Resource is a package and cannot be converted into a binding.')
    // An action inside a binding, or inside a package that does not exist.
    const inBinding = await owError(
      b1.actions.create({ name: 'mybind/x', action: ECHO, kind: 'nodejs:default' }),
    )
    expect(inBinding.statusCode).toBe(400)
    expect(inBinding.error.error).toBe('Operation not permitted on package binding.')
    expect(
      (await owError(b1.actions.create({ name: 'nopkg/x', action: ECHO, kind: 'nodejs:default' })))
        .statusCode,
    ).toBe(404)
    const after = (await b1.packages.list()) as Array<{ name: string }>
    expect(after.map((p) => p.name).sort()).toEqual(['mybind', 'plain'])
    expect(JSON.stringify(after.filter((p) => p.name !== 'plain'))).toBe(
      JSON.stringify((JSON.parse(before) as Array<{ name: string }>).filter((p) => p.name !== 'plain')),
    )
    expect((await owError(b1.actions.get({ name: 'mybind/x' }))).statusCode).toBe(404)

    // A package that holds actions is not deleted.
    const a = clientOf(hosts[1]!, keyA)
    const notEmpty = await owError(a.packages.delete({ name: 'tools' }))
    expect(notEmpty.statusCode).toBe(409)
    expect(notEmpty.error.error).toBe('Package not empty (contains 1 entity).')
    await a.actions.delete({ name: 'tools/greet' })
    await a.packages.delete({ name: 'tools' })
    expect((await owError(a.packages.get({ name: 'tools' }))).statusCode).toBe(404)
  })

  it('the CLI manages packages with --namespace', async () => {
    const n0 = cluster.agents[0]!
    const made = await n0.cli(['--namespace', 'team-a', 'package', 'create', 'cli-pkg', '-p', 'x', '1'])
    expect(made.code, made.stderr).toBe(0)
    const bound = await n0.cli(['--namespace', 'team-a', 'package', 'bind', '/sys/shared', 'cli-bind'])
    expect(bound.code, bound.stderr).toBe(0)
    const list = JSON.parse(
      (await n0.cli(['--json', '--namespace', 'team-a', 'package', 'list'])).stdout,
    ) as Array<{
      name: string
      binding?: { namespace: string; name: string }
    }>
    expect(list.map((p) => p.name).sort()).toEqual(['cli-bind', 'cli-pkg'])
    expect(list.find((p) => p.name === 'cli-bind')?.binding).toEqual({ namespace: 'sys', name: 'shared' })
    const chain = await n0.cli(['--namespace', 'team-a', 'package', 'bind', 'cli-bind', 'cli-chain'])
    expect(chain.code).toBe(1)
    expect(chain.stderr).toContain('[BINDING_INVALID]')
    const inv = await n0.cli(['--namespace', 'team-a', 'invoke', 'cli-bind/echo', '-p', 'z', '9', '--result'])
    expect(inv.code, inv.stderr).toBe(0)
    expect(JSON.parse(inv.stdout)).toEqual({ a: 1, b: 1, z: 9 })
  })
})

describe('versions', () => {
  const version = (tag: number) => `function main(p) { return { version: ${tag}, who: p.who } }`

  it('name@N runs version N after a newer one exists; rollback makes it current on every node', async () => {
    const [n0, n1, n2] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle]
    const file = (n: number) => {
      const f = join(cluster.root, `v${n}.js`)
      writeFileSync(f, version(n))
      return f
    }
    expect((await n0.cli(['fn', 'create', 'multi', file(1), '-p', 'who', 'v1'])).code).toBe(0)
    expect((await n0.cli(['fn', 'update', 'multi', file(2), '-p', 'who', 'v2'])).code).toBe(0)
    expect((await n0.cli(['fn', 'update', 'multi', file(3), '-p', 'who', 'v3'])).code).toBe(0)

    for (const n of [n1, n2]) {
      const latest = await waitFor(
        async () => {
          const r = await n.cli(['invoke', 'multi', '--result'])
          const out = r.code === 0 ? (JSON.parse(r.stdout) as { version: number }) : null
          return out?.version === 3 ? out : null
        },
        { what: 'version 3 everywhere', timeoutMs: 30_000 },
      )
      expect(latest).toEqual({ version: 3, who: 'v3' })
      const two = await n.cli(['invoke', 'multi@2', '--result'])
      expect(two.code, two.stderr).toBe(0)
      expect(JSON.parse(two.stdout)).toEqual({ version: 2, who: 'v2' })
      const versions = JSON.parse((await n.cli(['--json', 'fn', 'versions', 'multi'])).stdout) as Array<{
        version: number
      }>
      expect(versions.map((v) => v.version)).toEqual([1, 2, 3])
    }

    // A version that does not exist: a clear error, nothing runs or changes.
    const missing = await n1.cli(['invoke', 'multi@9'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('[VERSION_NOT_FOUND]')
    const badRollback = await n1.cli(['fn', 'rollback', 'multi', '9'])
    expect(badRollback.stderr).toContain('[VERSION_NOT_FOUND]')
    expect(
      (JSON.parse((await n1.cli(['--json', 'fn', 'get', 'multi'])).stdout) as { version: number }).version,
    ).toBe(3)

    const rolled = await n1.cli(['fn', 'rollback', 'multi', '2'])
    expect(rolled.code, rolled.stderr).toBe(0)
    expect(rolled.stdout).toContain('now version 4')
    for (const n of [n0, n1, n2]) {
      const out = await waitFor(
        async () => {
          const r = await n.cli(['invoke', 'multi', '--result'])
          const o = r.code === 0 ? (JSON.parse(r.stdout) as { version: number }) : null
          return o?.version === 2 ? o : null
        },
        { what: 'the rollback everywhere', timeoutMs: 30_000 },
      )
      expect(out).toEqual({ version: 2, who: 'v2' })
      const head = JSON.parse((await n.cli(['--json', 'fn', 'get', 'multi'])).stdout) as { version: number }
      expect(head.version).toBe(4)
    }
    // The REST API keeps OpenWhisk's semantics: the latest version, shown as 0.0.4.
    const guestKey = await createKey(n0, 'guest')
    const got = await waitFor(
      () =>
        clientOf(hosts[2]!, guestKey)
          .actions.get({ name: 'multi' })
          .catch(() => null),
      {
        what: 'the guest key on node 2',
        timeoutMs: 30_000,
      },
    )
    expect((got as { version: string }).version).toBe('0.0.4')
  })
})

describe('secrets', () => {
  /** Every byte of a node's LevelDB files (the log, tables, manifest), as a thief with the disk has them. */
  function rawDb(agent: AgentHandle): Buffer {
    const dir = join(agent.dataDir, 'db')
    return Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))))
  }
  const sha = (s: string) => createHash('sha256').update(s).digest('hex')

  it('a secret parameter and env reach the function, never LevelDB in clear on any node, and fn get redacts them', async () => {
    const [n0, n1, n2] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle]
    const secret = `pw-${randomBytes(12).toString('hex')}`
    const token = `tok-${randomBytes(12).toString('hex')}`
    const plain = `plain-${randomBytes(12).toString('hex')}`
    const file = join(cluster.root, 'secret.js')
    // The function proves it read the secrets without returning them (records are not secret).
    writeFileSync(
      file,
      "const h = (s) => require('crypto').createHash('sha256').update(String(s)).digest('hex')\n" +
        'function main(p) { return { pw: h(p.password), token: h(process.env.TOKEN), plain: p.plain } }\n',
    )
    const made = await n0.cli([
      'fn',
      'create',
      'vault',
      file,
      '-p',
      'plain',
      plain,
      '--secret-param',
      'password',
      secret,
      '--secret-env',
      `TOKEN=${token}`,
    ])
    expect(made.code, made.stderr).toBe(0)
    for (const n of [n0, n1, n2]) {
      const out = await waitFor(
        async () => {
          const r = await n.cli(['invoke', 'vault', '--result'])
          return r.code === 0 ? JSON.parse(r.stdout) : null
        },
        { what: 'the function with secrets on every node', timeoutMs: 30_000 },
      )
      expect(out).toEqual({ pw: sha(secret), token: sha(token), plain })
    }
    for (const [i, n] of [n0, n1, n2].entries()) {
      const raw = rawDb(n)
      // The control: the plain parameter is there in clear, so the search does find values.
      expect(raw.includes(plain), `node ${i} holds the plain parameter`).toBe(true)
      expect(raw.includes(secret), `node ${i} holds the secret parameter in clear`).toBe(false)
      expect(raw.includes(token), `node ${i} holds the secret env in clear`).toBe(false)

      const shown = await n.cli(['fn', 'get', 'vault'])
      expect(shown.stdout).toContain('<redacted>')
      expect(shown.stdout).not.toContain(secret)
      const json = JSON.parse((await n.cli(['--json', 'fn', 'get', 'vault'])).stdout) as {
        secrets: { parameters: Record<string, string>; env: Record<string, string> }
      }
      expect(json.secrets).toEqual({ parameters: { password: '<redacted>' }, env: { TOKEN: '<redacted>' } })
      const revealed = JSON.parse(
        (await n.cli(['--json', 'fn', 'get', 'vault', '--show-secrets'])).stdout,
      ) as {
        secrets: unknown
      }
      expect(revealed.secrets).toEqual({ parameters: { password: secret }, env: { TOKEN: token } })
    }
    // The REST API names the secret parameter, redacted.
    const ow = clientOf(hosts[1]!, await createKey(n1, 'guest'))
    const action = (await waitFor(() => ow.actions.get({ name: 'vault' }).catch(() => null), {
      what: 'vault through the REST API',
      timeoutMs: 30_000,
    })) as { parameters: Array<{ key: string; value: unknown }> }
    expect(action.parameters).toContainEqual({ key: 'password', value: '<redacted>' })
    expect(JSON.stringify(action)).not.toContain(secret)
  })
})

describe('kinds', () => {
  it('runs a manifest kind (nodejs:20) on the installed runtime with a note, and refuses an unknown one', async () => {
    const ow = clientOf(hosts[0]!, keyA)
    const made = (await ow.actions.create({ name: 'old-node', action: ECHO, kind: 'nodejs:20' })) as {
      exec: { kind: string }
    }
    expect(made.exec.kind).toBe('nodejs:24')
    expect(
      await ow.actions.invoke({ name: 'old-node', blocking: true, result: true, params: { k: 1 } }),
    ).toEqual({
      k: 1,
    })
    const rec = JSON.parse(
      (await cluster.agents[0]!.cli(['--json', '--namespace', 'team-a', 'fn', 'get', 'old-node'])).stdout,
    )
    expect(rec).toMatchObject({ kind: 'nodejs:24', requestedKind: 'nodejs:20' })
    const refused = await owError(ow.actions.create({ name: 'javaish', action: ECHO, kind: 'java:8' }))
    expect(refused.statusCode).toBe(400)
    expect(refused.error.error).toContain('installed: nodejs:24, python:3, blackbox')
  })
})

describe('per-namespace limits', () => {
  it('a namespace over its concurrency limit gets 429 on every node while other namespaces run', async () => {
    const [n0] = cluster.agents as [AgentHandle]
    const set = await n0.cli(['--json', 'namespace', 'limits', 'team-a', '--concurrent', '1'])
    expect(set.code, set.stderr).toBe(0)
    expect(JSON.parse(set.stdout)).toEqual({ concurrent: 1 })
    const unknown = await n0.cli(['namespace', 'limits', 'team-nope', '--concurrent', '1'])
    expect(unknown.stderr).toContain('[UNKNOWN_NAMESPACE]')
    // The limit replicates with the namespace.
    for (const a of cluster.agents) {
      await waitFor(
        async () =>
          JSON.parse((await a.cli(['--json', 'namespace', 'limits', 'team-a'])).stdout).concurrent === 1,
        { what: "team-a's limit on every node", timeoutMs: 30_000 },
      )
    }
    const a0 = clientOf(hosts[0]!, keyA)
    await a0.actions.create({
      name: 'slow',
      action: 'function main(p) { return new Promise((r) => setTimeout(() => r({ slept: p.ms }), p.ms)) }',
      kind: 'nodejs:default',
    })
    // One long activation holds team-a's only slot, on node 0.
    const held = (await a0.actions.invoke({ name: 'slow', params: { ms: 20_000 } })) as {
      activationId: string
    }
    for (const [n, host] of hosts.entries()) {
      const a = clientOf(host, keyA)
      // Other nodes learn of it by gossip (within a heartbeat); until then an invocation may run.
      const refused = await waitFor(
        async () => {
          const e = await a.actions
            .invoke({ name: 'only-a', blocking: true, result: true })
            .then(() => null)
            .catch((err: { statusCode: number; error: { error: string } }) => err)
          return e?.statusCode === 429 ? e : null
        },
        { what: `a 429 for team-a on node ${n}`, timeoutMs: 30_000 },
      )
      expect(refused.error.error).toMatch(
        /^Too many concurrent requests in flight \(count: \d+, allowed: 1\)\.$/,
      )
      // Another namespace runs meanwhile.
      const b = clientOf(host, keyB)
      expect(
        await b.actions.invoke({ name: 'shared-name', blocking: true, result: true, params: { v: n } }),
      ).toEqual({
        tag: 'b',
        v: n,
      })
    }
    // The local CLI is held to the same limit.
    const cliRefused = await n0.cli(['--namespace', 'team-a', 'invoke', 'only-a'])
    expect(cliRefused.stderr).toContain('[TOO_MANY_REQUESTS]')
    // Once the long one ends, team-a runs again everywhere.
    await waitFor(() => a0.activations.get({ name: held.activationId }).catch(() => null), {
      what: 'the long activation to end',
      timeoutMs: 60_000,
    })
    for (const [n, host] of hosts.entries()) {
      const a = clientOf(host, keyA)
      const out = await waitFor(
        () =>
          a.actions
            .invoke({ name: 'only-a', blocking: true, result: true, params: { v: n } })
            .catch(() => null),
        { what: `team-a running again on node ${n}`, timeoutMs: 30_000 },
      )
      expect(out).toEqual({ tag: 'only-a', v: n })
    }
    expect((await n0.cli(['namespace', 'limits', 'team-a', '--none'])).code).toBe(0)
  })
})
