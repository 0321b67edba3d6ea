/**
 * Alarm feeds (issue 20), three real agent processes on 127.0.0.1 with the OpenWhisk API, real
 * containers: a trigger with a 1 s alarm (6-field cron) and a rule to a small action.
 * - fire latency: from a tick's scheduled time to the start of the action run it caused (the
 *   action's record `start`), p50/p99, and to the trigger activation (the fire itself);
 * - failover gap: the owner hangs (SIGSTOP) and is killed (SIGKILL) once another node owns the
 *   alarm, or is killed outright (SIGKILL); the gap is the longest delay of a tick's fire after its
 *   scheduled time around the failure (docs/events.md#no-single-point-of-failure).
 *
 *   node_modules/.bin/node bench/alarms.ts [seconds]
 */
import openwhisk from 'openwhisk'
import { apiHostOf, owFetch } from '../test/api/helpers.ts'
import { Cleanup } from '../test/helpers/agent-process.ts'
import { createCluster, nodeIdOf } from '../test/helpers/cluster.ts'
import { waitFor } from '../test/helpers/wait-for.ts'
import { summarize } from './stats.ts'

const ALARM = '/whisk.system/alarms/alarm'
type Rec = {
  activationId: string
  start: number
  node: string
  logs: string[]
  annotations: Array<{ key: string; value: unknown }>
}

export async function benchAlarms(seconds = 40) {
  const cleanup = new Cleanup()
  try {
    const out: Record<string, unknown> = {}
    for (const failure of ['hang, then kill -9', 'kill -9'] as const) {
      const cluster = await createCluster(3, cleanup, {
        args: ['--api-listen', '127.0.0.1:0'],
        env: { FNAGENT_INVOKER_PREWARM: '[]' },
      })
      const hosts = await Promise.all(cluster.agents.map((a) => apiHostOf(a)))
      const ids = await Promise.all(cluster.agents.map((a) => nodeIdOf(a)))
      const key = (await cluster.agents[0]!.cli(['auth', 'create'])).stdout.trim()
      const ow = (h: string) => openwhisk({ apihost: h, api_key: key })
      for (const h of hosts)
        await waitFor(async () => (await owFetch(h, key, 'GET', '/api/v1/namespaces')).status === 200, {
          what: 'the key',
          timeoutMs: 30_000,
        })
      const a = ow(hosts[0]!)
      await a.actions.create({
        name: 'echo',
        action: 'function main(p) { return p }',
        kind: 'nodejs:default',
      })
      await a.triggers.create({ name: 'tick', trigger: { annotations: [{ key: 'feed', value: ALARM }] } })
      await a.feeds.create({ name: ALARM, trigger: 'tick', params: { cron: '* * * * * *' } })
      await a.rules.create({ name: 'tick-rule', trigger: 'tick', action: 'echo' })
      const read = async (h: string) =>
        (
          (await (ow(h).feeds as unknown as { get: (o: object) => Promise<unknown> }).get({
            name: ALARM,
            trigger: 'tick',
          })) as { response: { result: { status: { owner: string } } } }
        ).response.result.status.owner
      const owner = await waitFor(() => read(hosts[1]!), { what: 'the owner', timeoutMs: 30_000 })
      const victim = ids.indexOf(owner)
      const survivor = hosts[(victim + 1) % 3]!
      const list = async (name: string) =>
        (
          await owFetch(
            survivor,
            key,
            'GET',
            `/api/v1/namespaces/_/activations?name=${name}&limit=200&docs=true`,
          )
        ).body as Rec[]
      // Steady state: `seconds` of ticks (the first ones warm the action's container).
      await waitFor(async () => (await list('tick')).length >= seconds, {
        what: 'steady ticks',
        timeoutMs: seconds * 3000,
        everyMs: 1000,
      })
      const failedAt = Date.now()
      const proc = cluster.agents[victim]!
      if (failure === 'kill -9') await proc.kill9()
      else {
        proc.proc.kill('SIGSTOP')
        await waitFor(async () => (await read(survivor)) !== owner, {
          what: 'a new owner',
          timeoutMs: 60_000,
          everyMs: 100,
        })
        await proc.kill9()
      }
      await waitFor(async () => (await list('tick')).some((r) => scheduled(r) > failedAt + 15_000), {
        what: 'ticks after the failover',
        timeoutMs: 60_000,
        everyMs: 1000,
      })
      const ticks = (await list('tick')).sort((x, y) => scheduled(x) - scheduled(y))
      const steady = ticks.filter((r) => scheduled(r) < failedAt).slice(5)
      const runs = new Map((await list('echo')).map((r) => [r.activationId, r]))
      const toAction = steady
        .map((r) => runs.get(String(JSON.parse(r.logs[0]!).activationId))?.start ?? Number.NaN)
        .map((start, i) => start - scheduled(steady[i]!))
        .filter((x) => Number.isFinite(x))
      const around = ticks.filter((r) => scheduled(r) >= failedAt - 1000 && scheduled(r) <= failedAt + 15_000)
      const missing = []
      for (let t = Math.ceil(failedAt / 1000) * 1000; t <= failedAt + 15_000; t += 1000)
        if (!ticks.some((r) => scheduled(r) === t)) missing.push(t)
      out[failure] = {
        fireLatencyMs: {
          scheduledToTriggerRecord: summarize(steady.map((r) => r.start - scheduled(r))),
          scheduledToActionStart: summarize(toAction),
        },
        failoverGapMs: Math.max(...around.map((r) => r.start - scheduled(r))),
        lateTicks: around.filter((r) => r.start - scheduled(r) > 1000).length,
        missingTicks: missing.length,
        firedBy: [...new Set(around.map((r) => ids.indexOf(r.node)))],
        victim,
      }
      await cleanup.run()
    }
    return out
  } finally {
    await cleanup.run()
  }
}

const scheduled = (r: Rec) => Number(r.annotations.find((a) => a.key === 'scheduledTime')?.value)

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchAlarms(Number(process.argv[2] ?? 40)), null, 2))
  process.exit(0)
}
