import openwhisk from 'openwhisk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { type AgentHandle, Cleanup } from '../helpers/agent-process.ts'
import { createCluster, type LocalCluster } from '../helpers/cluster.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { apiHostOf, owClientError, owFetch } from './helpers.ts'

/**
 * Issue 20, triggers and rules: replicated like functions, fired on any node, through the real
 * `openwhisk` npm client against a 3-node cluster of real agent processes.
 */

const cleanup = new Cleanup()
let cluster: LocalCluster
const hosts: string[] = []
let key: string
type Ow = ReturnType<typeof openwhisk>
const clientOf = (host: string): Ow => openwhisk({ apihost: host, api_key: key })

beforeAll(async () => {
  cluster = await createCluster(3, cleanup, { args: ['--api-listen', '127.0.0.1:0'] })
  for (const a of cluster.agents) {
    hosts.push(await apiHostOf(a))
  }
  const r = await cluster.agents[0]!.cli(['auth', 'create'])
  if (r.code !== 0) throw new Error(r.stderr)
  key = r.stdout.trim()
  // The key replicates: wait until every node takes it.
  for (const host of hosts)
    await waitFor(async () => (await owFetch(host, key, 'GET', '/api/v1/namespaces')).status === 200, {
      what: 'the key on every node',
      timeoutMs: 30_000,
    })
}, 180_000)
afterAll(() => cleanup.run())

describe('triggers and rules on a 3-node cluster', () => {
  it('a trigger fired on B runs the rule’s action; C reads the trigger activation and the action’s', async () => {
    const a = clientOf(hosts[0]!)
    await a.actions.create({
      name: 'on-push',
      action: 'function main(p) { return { saw: p.ref, by: p.who } }',
      kind: 'nodejs:default',
    })
    await a.triggers.create({
      name: 'push',
      trigger: { parameters: [{ key: 'who', value: 'trigger-default' }] },
    })
    await a.rules.create({ name: 'push-rule', trigger: 'push', action: 'on-push' })
    const b = clientOf(hosts[1]!)
    // Triggers and rules replicate to every node like functions.
    await waitFor(async () => ((await b.rules.list()) as unknown[]).length === 1, {
      what: 'the rule on node B',
      timeoutMs: 30_000,
    })
    await waitFor(async () => ((await b.actions.list()) as unknown[]).length === 1, {
      what: 'the action on node B',
      timeoutMs: 30_000,
    })
    const fired = (await b.triggers.invoke({ name: 'push', params: { ref: 'main' } })) as {
      activationId: string
    }
    expect(fired.activationId).toMatch(/^[0-9a-f]{32}$/)

    const c = clientOf(hosts[2]!)
    const triggerRecord = (await waitFor(
      async () => c.activations.get({ name: fired.activationId }).catch(() => null),
      { what: 'the trigger activation on node C', timeoutMs: 30_000 },
    )) as ActivationRecord
    expect(triggerRecord).toMatchObject({
      name: 'push',
      response: { success: true, result: { ref: 'main' } },
    })
    expect(triggerRecord.logs).toHaveLength(1)
    const ruleLog = JSON.parse(triggerRecord.logs[0]!) as Record<string, unknown>
    expect(ruleLog).toMatchObject({
      rule: 'guest/push-rule',
      action: 'guest/on-push',
      statusCode: 0,
      success: true,
    })
    const actionRecord = (await waitFor(
      async () => {
        const r = (await c.activations.get({ name: String(ruleLog.activationId) }).catch(() => null)) as
          | (ActivationRecord & { phase?: string })
          | null
        return r && r.phase === undefined ? r : null
      },
      { what: 'the action activation on node C', timeoutMs: 60_000 },
    )) as ActivationRecord
    // The trigger's parameters under the payload.
    expect(actionRecord.response.result).toEqual({ saw: 'main', by: 'trigger-default' })

    // The trigger shows its rule, on every node.
    const t = (await c.triggers.get({ name: 'push' })) as { rules?: Record<string, { status: string }> }
    expect(t.rules?.['guest/push-rule']?.status).toBe('active')
  })

  it('a disabled rule does not fire; enabling it again does', async () => {
    const a = clientOf(hosts[0]!)
    await a.rules.disable({ name: 'push-rule' })
    const b = clientOf(hosts[1]!)
    await waitFor(
      async () => ((await b.rules.get({ name: 'push-rule' })) as { status: string }).status === 'inactive',
      {
        what: 'the disabled rule on node B',
        timeoutMs: 30_000,
      },
    )
    // No active rule: OpenWhisk answers 204 and records nothing.
    const r = await owFetch(hosts[1]!, key, 'POST', '/api/v1/namespaces/_/triggers/push', { ref: 'x' })
    expect(r.status).toBe(204)
    await a.rules.enable({ name: 'push-rule' })
    await waitFor(
      async () => ((await b.rules.get({ name: 'push-rule' })) as { status: string }).status === 'active',
      {
        what: 'the enabled rule on node B',
        timeoutMs: 30_000,
      },
    )
    const again = await owFetch(hosts[1]!, key, 'POST', '/api/v1/namespaces/_/triggers/push', { ref: 'y' })
    expect(again.status).toBe(202)
  })

  it('refuses a rule naming a missing trigger or action, and stores nothing', async () => {
    const a = clientOf(hosts[0]!)
    const noTrigger = await owClientError(
      a.rules.create({ name: 'bad-1', trigger: 'nothere', action: 'on-push' }),
    )
    expect(noTrigger.statusCode).toBe(404)
    expect(noTrigger.error.error).toBe('trigger /guest/nothere does not exist')
    const noAction = await owClientError(
      a.rules.create({ name: 'bad-2', trigger: 'push', action: 'nothere' }),
    )
    expect(noAction.statusCode).toBe(404)
    expect(noAction.error.error).toBe('action /guest/nothere does not exist')
    const rules = (await a.rules.list()) as Array<{ name: string }>
    expect(rules.map((r) => r.name)).toEqual(['push-rule'])
  })

  it('the CLI manages triggers and rules, and deleting a trigger stops its rule on every node', async () => {
    const [n0, n1] = cluster.agents as [AgentHandle, AgentHandle]
    expect((await n0.cli(['trigger', 'create', 'tick', '-p', 'n', '1'])).code).toBe(0)
    expect((await n0.cli(['rule', 'create', 'tick-rule', 'tick', 'on-push'])).code).toBe(0)
    const list = JSON.parse((await n0.cli(['--json', 'rule', 'list'])).stdout) as Array<{ name: string }>
    expect(list.map((r) => r.name).sort()).toEqual(['push-rule', 'tick-rule'])
    const fire = await waitFor(
      async () => {
        const r = await n1.cli(['--json', 'trigger', 'fire', 'tick', '-p', 'ref', 'cli'])
        return r.code === 0 ? (JSON.parse(r.stdout) as { activationId: string | null }) : null
      },
      { what: 'the trigger on node 1', timeoutMs: 30_000 },
    )
    expect(fire.activationId).toMatch(/^[0-9a-f]{32}$/)
    expect((await n0.cli(['trigger', 'delete', 'tick'])).code).toBe(0)
    await waitFor(async () => (await n1.cli(['trigger', 'fire', 'tick'])).code !== 0, {
      what: 'the deleted trigger gone from node 1',
      timeoutMs: 30_000,
    })
    const gone = await n1.cli(['trigger', 'fire', 'tick'])
    expect(gone.stderr).toMatch(/trigger 'tick' does not exist/)
  })
})

describe('webhook triggers', () => {
  it('a POST with the trigger’s secret fires it without an API key; a wrong or missing secret fires nothing', async () => {
    const [n0, n1] = cluster.agents as [AgentHandle, AgentHandle]
    expect((await n0.cli(['trigger', 'create', 'hook'])).code).toBe(0)
    expect((await n0.cli(['rule', 'create', 'hook-rule', 'hook', 'on-push'])).code).toBe(0)
    const made = await n0.cli(['--json', 'trigger', 'webhook', 'hook'])
    expect(made.code).toBe(0)
    const { path, secret } = JSON.parse(made.stdout) as { path: string; secret: string }
    expect(path).toBe('/api/v1/webhooks/guest/hook')
    // Shown again, the same secret (it is the trigger's, sealed on its record).
    expect(JSON.parse((await n0.cli(['--json', 'trigger', 'webhook', 'hook'])).stdout).secret).toBe(secret)
    const post = (host: string, s: string | null, body: unknown = { event: 'push' }) =>
      fetch(`${host}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(s === null ? {} : { 'x-webhook-secret': s }) },
        body: JSON.stringify(body),
      })
    const hookRecords = async () => {
      const r = await owFetch(hosts[2]!, key, 'GET', '/api/v1/namespaces/_/activations?name=hook&limit=200')
      return (r.body as unknown[]).length
    }
    // The secret and the rule replicate: node B answers.
    const res = await waitFor(
      async () => {
        const r = await post(hosts[1]!, secret)
        return r.status === 202 ? r : null
      },
      { what: 'the webhook on node B', timeoutMs: 30_000 },
    )
    const { activationId } = (await res.json()) as { activationId: string }
    const c = clientOf(hosts[2]!)
    const rec = (await waitFor(async () => c.activations.get({ name: activationId }).catch(() => null), {
      what: 'the webhook’s trigger activation on node C',
      timeoutMs: 30_000,
    })) as ActivationRecord
    expect(rec.response.result).toEqual({ event: 'push' })
    expect(rec.subject).toBe('webhook:guest/hook')
    await waitFor(async () => (await hookRecords()) === 1, { what: 'one hook record', timeoutMs: 30_000 })

    const wrong = await post(hosts[1]!, `${secret}x`)
    expect(wrong.status).toBe(403)
    expect(((await wrong.json()) as { error: string }).error).toMatch(/webhook secret does not match/)
    const missing = await post(hosts[1]!, null)
    expect(missing.status).toBe(401)
    expect(((await missing.json()) as { error: string }).error).toMatch(/X-Webhook-Secret/i)
    // The same answer for a trigger that does not exist: nothing tells which triggers do.
    const other = await fetch(`${hosts[1]}/api/v1/webhooks/guest/nothere`, {
      method: 'POST',
      headers: { 'x-webhook-secret': secret },
    })
    expect(other.status).toBe(403)

    // Rotated: the old secret stops working on every node.
    const rotated = JSON.parse(
      (await n0.cli(['--json', 'trigger', 'webhook', 'hook', '--rotate'])).stdout,
    ) as {
      secret: string
    }
    expect(rotated.secret).not.toBe(secret)
    await waitFor(async () => (await post(hosts[1]!, secret)).status === 403, {
      what: 'the old secret refused on node B',
      timeoutMs: 30_000,
    })
    expect((await post(hosts[1]!, rotated.secret)).status).toBe(202)
    // Nothing but the two good POSTs fired the trigger.
    await waitFor(async () => (await hookRecords()) === 2, { what: 'two hook records', timeoutMs: 30_000 })
    expect(await hookRecords()).toBe(2)
    expect((await n1.cli(['trigger', 'webhook', 'hook', '--remove'])).code).toBe(0)
  })
})
