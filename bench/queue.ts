/**
 * The durable async queue (issue 19), with three real agent processes on 127.0.0.1, two 256 MiB
 * slots each, real containers:
 * - drain: N async jobs of a 1 s function submitted to one node; the cluster's busy slots are
 *   sampled while that node's queue is non-empty (goal: ≥ 90% of the six slots busy), and the
 *   drain rate is set against the slot capacity (6 jobs/s);
 * - accept: M async invocations accepted one after another on one node, each answered once R = 3
 *   copies hold it (p50 / p99 ms); the jobs stay queued (a 2048 MiB function on 512 MiB nodes),
 *   so the same run gives the memory (RSS) and disk (data dir) M queued jobs cost;
 * - split: L priority-0 jobs on node A, then H priority-2 jobs on node B (the queue spread over two
 *   nodes): the busy slots while either queue holds work (does yielding to the other node's higher
 *   jobs leave slots idle?), and how many of A's jobs were placed while B's waited.
 *
 *   node_modules/.bin/node bench/queue.ts [drainJobs] [acceptJobs] [splitLow] [splitHigh]
 */
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import type { ActivationRecord } from '../agent/store/types.ts'
import { Client } from '../cli/client.ts'
import { type AgentHandle, Cleanup } from '../test/helpers/agent-process.ts'
import { createCluster, waitDeployed } from '../test/helpers/cluster.ts'
import { waitFor } from '../test/helpers/wait-for.ts'
import { round, summarize } from './stats.ts'

const exec = promisify(execFile)
const SMALL_NODE = { FNAGENT_INVOKER_MEMORY_BUDGET_MIB: '512', FNAGENT_INVOKER_PREWARM: '[]' }
const SLOTS = 6

type Status = { invoker: { inflight: number }; memory: { rss: number } }
type Queue = { waiting: number[]; running: number; yielded: number }

const client = (a: AgentHandle) => new Client(a.socket)
const invoke = (a: AgentHandle, fn: string, priority = 0) =>
  client(a).call<{ activationId: string; copies: number }>('POST', `/v1/functions/${fn}/invoke`, {
    params: {},
    blocking: false,
    priority,
  })

async function duMiB(dir: string): Promise<number> {
  const { stdout } = await exec('du', ['-sk', dir])
  return round(Number(stdout.split('\t')[0]) / 1024, 1)
}

async function drain(agents: AgentHandle[], jobs: number) {
  const [a] = agents as [AgentHandle]
  const t0 = performance.now()
  for (let i = 0; i < jobs; i++) await invoke(a, 'second')
  const samples: number[] = []
  let tFirstEmpty = 0
  for (;;) {
    const q = await client(a).get<Queue>('/v1/queue')
    const waiting = q.waiting.reduce((x, y) => x + y, 0)
    if (waiting === 0) {
      tFirstEmpty = performance.now()
      break
    }
    const busy = await Promise.all(agents.map((x) => client(x).get<Status>('/v1/status')))
    samples.push(busy.reduce((n, s) => n + s.invoker.inflight, 0))
    await sleep(200)
  }
  await waitFor(async () => (await client(a).get<Queue>('/v1/queue')).running === 0, {
    what: 'the last jobs to finish',
    timeoutMs: 120_000,
  })
  const seconds = (performance.now() - t0) / 1000
  const mean = samples.reduce((x, y) => x + y, 0) / Math.max(1, samples.length)
  return {
    jobs,
    seconds: round(seconds, 1),
    jobsPerSecond: round(jobs / seconds),
    slotCapacityPerSecond: SLOTS,
    busySlotsWhileQueued: {
      mean: round(mean),
      ofSlots: SLOTS,
      utilization: round(mean / SLOTS, 3),
      samples: samples.length,
    },
    queuedSeconds: round((tFirstEmpty - t0) / 1000, 1),
  }
}

/** When a queued job's placement began (its `queue` annotation), and when it arrived. */
function queueTimes(r: ActivationRecord): { arrived: number; placed: number } {
  const q = r.annotations.find((x) => x.key === 'queue')?.value as { acceptedAt: number; waitedMs: number }
  return { arrived: q.acceptedAt, placed: q.acceptedAt + q.waitedMs }
}

async function split(agents: AgentHandle[], low: number, high: number) {
  const [a, b] = agents as [AgentHandle, AgentHandle]
  const t0 = performance.now()
  const lows: string[] = []
  for (let i = 0; i < low; i++) lows.push((await invoke(a, 'second', 0)).body.activationId)
  const highs: string[] = []
  for (let i = 0; i < high; i++) highs.push((await invoke(b, 'second', 2)).body.activationId)
  const samples: number[] = []
  for (;;) {
    const qs = await Promise.all([a, b].map((x) => client(x).get<Queue>('/v1/queue')))
    if (qs.every((q) => q.waiting.reduce((x, y) => x + y, 0) === 0)) break
    const busy = await Promise.all(agents.map((x) => client(x).get<Status>('/v1/status')))
    samples.push(busy.reduce((n, s) => n + s.invoker.inflight, 0))
    await sleep(200)
  }
  const recs = await waitFor(
    async () => {
      const list = await client(a).get<ActivationRecord[]>(
        `/v1/activations?cluster=true&name=second&limit=200`,
      )
      const mine = list.filter((r) => lows.includes(r.activationId) || highs.includes(r.activationId))
      return mine.length === low + high ? mine : null
    },
    { what: 'every split job finished', timeoutMs: 300_000, everyMs: 1000 },
  )
  const seconds = (performance.now() - t0) / 1000
  const times = new Map(recs.map((r) => [r.activationId, queueTimes(r)]))
  const arrived = Math.min(...highs.map((id) => times.get(id)!.arrived))
  const lastHigh = Math.max(...highs.map((id) => times.get(id)!.placed))
  const mean = samples.reduce((x, y) => x + y, 0) / Math.max(1, samples.length)
  return {
    low,
    high,
    seconds: round(seconds, 1),
    busySlotsWhileQueued: {
      mean: round(mean),
      ofSlots: SLOTS,
      utilization: round(mean / SLOTS, 3),
      samples: samples.length,
    },
    lowPlacedWhileHighWaited: lows.filter((id) => {
      const p = times.get(id)!.placed
      return p > arrived && p < lastHigh
    }).length,
    highPlacedAfterSeconds: round((lastHigh - arrived) / 1000, 1),
    yieldedOnA: (await client(a).get<Queue>('/v1/queue')).yielded,
  }
}

async function accept(agents: AgentHandle[], jobs: number) {
  const [a] = agents as [AgentHandle]
  const before = { rss: (await client(a).get<Status>('/v1/status')).memory.rss, disk: await duMiB(a.dataDir) }
  const lat: number[] = []
  const copies = new Map<number, number>()
  for (let i = 0; i < jobs; i++) {
    const t = performance.now()
    const r = await invoke(a, 'parked')
    lat.push(performance.now() - t)
    copies.set(r.body.copies, (copies.get(r.body.copies) ?? 0) + 1)
  }
  // Let LevelDB flush and the heap settle before measuring.
  await sleep(5000)
  const after = { rss: (await client(a).get<Status>('/v1/status')).memory.rss, disk: await duMiB(a.dataDir) }
  const peers = await Promise.all(agents.slice(1).map((x) => duMiB(x.dataDir)))
  return {
    acceptMs: summarize(lat),
    copies: Object.fromEntries(copies),
    queued: (await client(a).get<Queue>('/v1/queue')).waiting.reduce((x, y) => x + y, 0),
    rssMiB: {
      before: before.rss,
      after: after.rss,
      perThousandJobs: round(((after.rss - before.rss) / jobs) * 1000),
    },
    diskMiB: {
      before: before.disk,
      after: after.disk,
      perThousandJobs: round(((after.disk - before.disk) / jobs) * 1000),
    },
    ownerDiskMiB: peers,
  }
}

export async function benchQueue(
  opts: { drainJobs?: number; acceptJobs?: number; splitLow?: number; splitHigh?: number } = {},
) {
  const cleanup = new Cleanup()
  try {
    const cluster = await createCluster(3, cleanup, { env: SMALL_NODE })
    const file = join(cluster.root, 'second.js')
    writeFileSync(
      file,
      'function main() { return new Promise((r) => setTimeout(() => r({ ok: true }), 1000)) }\n',
    )
    const [a] = cluster.agents as [AgentHandle]
    for (const [name, extra] of [
      ['second', []],
      ['parked', ['--memory', '2048']],
    ] as const) {
      const r = await a.cli(['fn', 'create', name, file, ...extra])
      if (r.code !== 0) throw new Error(r.stderr)
      await waitDeployed(name, cluster.agents)
    }
    const drained = await drain(cluster.agents, opts.drainJobs ?? 240)
    const spread = await split(cluster.agents, opts.splitLow ?? 120, opts.splitHigh ?? 30)
    const accepted = await accept(cluster.agents, opts.acceptJobs ?? 10_000)
    return { drain: drained, split: spread, accept: accepted }
  } finally {
    await cleanup.run()
  }
}

if (import.meta.main) {
  const [d, a, l, h] = process.argv.slice(2).map(Number)
  const opts = {
    drainJobs: d || undefined,
    acceptJobs: a || undefined,
    splitLow: l || undefined,
    splitHigh: h || undefined,
  }
  console.log(JSON.stringify(await benchQueue(opts), null, 2))
  process.exit(0)
}
