/**
 * Cluster benchmark: N cluster-only processes (test/cluster/fixtures/node-process.ts: the daemon's
 * own `Cluster` with the default cluster options, run with the daemon's Node flags and environment
 * from cli/launch.ts), each listening on its own loopback address 127.0.0.x, joined in a chain.
 * Per size: time until every view lists every member alive after the last join, false suspicions
 * and cluster traffic over an idle window (gossip and SWIM messages, TCP bytes received per process
 * from `ss`), idle CPU and RSS per process, then the time until every other process marks a kill -9'd
 * one dead. The load average (1 min) is recorded next to each figure: the machine is shared.
 *
 *   npm run bench -- cluster --sizes=10,50,100 --idle-s=300     (the defaults)
 *   node_modules/.bin/node bench/cluster.ts --sizes=10,30 --idle-s=60
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { type ClusterStats, writeClusterKey } from '../agent/cluster/index.ts'
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '../cli/launch.ts'
import { type NodeProcess, spawnNode } from '../test/cluster/fixtures/processes.ts'
import { waitFor } from '../test/helpers/wait-for.ts'

const exec = promisify(execFile)

type Usage = { rss: number; cpu: { user: number; system: number } }
type States = { counts: Record<string, number>; notAlive: Record<string, string> }

const load1 = () => +loadavg()[0]!.toFixed(1)
const log = (...args: unknown[]) => console.error('[cluster bench]', ...args)

/** Polls until `check` holds; returns the elapsed ms (NaN past the limit). */
async function timeUntil(check: () => Promise<boolean>, limitMs: number, everyMs: number): Promise<number> {
  const t0 = performance.now()
  while (!(await check())) {
    if (performance.now() - t0 > limitMs) return Number.NaN
    await sleep(everyMs)
  }
  return Math.round(performance.now() - t0)
}

/** TCP bytes received per process id (all its established sockets), from `ss -tinp`. */
async function wireReceived(): Promise<Map<number, number>> {
  const { stdout } = await exec('ss', ['-tinpH', 'state', 'established'], { maxBuffer: 64 * 2 ** 20 })
  const out = new Map<number, number>()
  let pid = 0
  for (const line of stdout.split('\n')) {
    const p = /pid=(\d+)/.exec(line)
    if (p) pid = Number(p[1])
    const b = /bytes_received:(\d+)/.exec(line)
    if (b && pid) out.set(pid, (out.get(pid) ?? 0) + Number(b[1]))
  }
  return out
}

/** Runs `fn` over `items`, `width` at a time. */
async function inBatches<T, R>(items: T[], width: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = []
  for (let i = 0; i < items.length; i += width)
    out.push(...(await Promise.all(items.slice(i, i + width).map((t, j) => fn(t, i + j)))))
  return out
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)

async function runSize(n: number, root: string, keyFile: string, idleMs: number) {
  const nodes: NodeProcess[] = []
  const pollMs = Math.max(200, n * 10)
  try {
    const t0 = performance.now()
    await inBatches(Array.from({ length: n }), 4, async (_, i) => {
      // 127.0.0.2 … : one loopback address per process, as agents on separate hosts.
      const host = `127.0.${Math.floor((i + 2) / 250)}.${((i + 2) % 250) + 1}`
      nodes[i] = await spawnNode({
        dir: join(root, `${n}-${i}`),
        keyFile,
        options: { listen: [`/ip4/${host}/tcp/0`] },
      })
    })
    log(`${n} processes started in ${((performance.now() - t0) / 1000).toFixed(1)} s, load ${load1()}`)
    // A join dials with a 5 s bound; on a loaded machine one may need another try.
    for (let i = 1; i < n; i++)
      await waitFor(() => nodes[i]!.send(`join ${nodes[i - 1]!.addrs[0]}`), {
        what: `node ${i} to join node ${i - 1}`,
        timeoutMs: 60_000,
        everyMs: 1000,
      })
    const loadAtJoin = load1()
    const allAlive = async () =>
      (await Promise.all(nodes.map((x) => x.send<States>('states')))).every((s) => s.counts.alive === n)
    const convergeMs = await timeUntil(allAlive, 120_000, pollMs)
    log(`${n}: converged in ${convergeMs} ms (load ${load1()})`)
    // Idle window: nothing happens but the cluster's own traffic.
    const stats = () => Promise.all(nodes.map((x) => x.send<ClusterStats>('stats')))
    const usage = () => Promise.all(nodes.map((x) => x.send<Usage>('usage')))
    const s0 = await stats()
    const u0 = await usage()
    const w0 = await wireReceived()
    const loads: number[] = [load1()]
    for (let left = idleMs; left > 0; left -= 10_000) {
      await sleep(Math.min(10_000, left))
      loads.push(load1())
    }
    const s1 = await stats()
    const u1 = await usage()
    const w1 = await wireReceived()
    const states = await Promise.all(nodes.map((x) => x.send<States>('states')))
    const secs = idleMs / 1000
    const perNode = (f: (a: ClusterStats, b: ClusterStats) => number) =>
      mean(s1.map((b, i) => f(s0[i]!, b))) / secs
    const cpu = u1.map(
      (b, i) => ((b.cpu.user + b.cpu.system - u0[i]!.cpu.user - u0[i]!.cpu.system) / 1000 / idleMs) * 100,
    )
    const wire = nodes.map((x) => ((w1.get(x.pid) ?? 0) - (w0.get(x.pid) ?? 0)) / secs)
    const idle = {
      seconds: secs,
      falseSuspicions: s1.reduce((sum, b, i) => sum + b.suspicions - s0[i]!.suspicions, 0),
      notAliveAtEnd: states.reduce((sum, s) => sum + Object.keys(s.notAlive).length, 0),
      gossipMsgsInPerNodePerSec: +perNode((a, b) => b.received - a.received).toFixed(2),
      gossipPayloadBytesInPerNodePerSec: Math.round(perNode((a, b) => b.bytesIn - a.bytesIn)),
      gossipPublishedPerNodePerSec: +perNode((a, b) => b.published - a.published).toFixed(2),
      probesPerNodePerSec: +perNode((a, b) => (b.probes ?? 0) - (a.probes ?? 0)).toFixed(2),
      wireBytesInPerNodePerSec: { mean: Math.round(mean(wire)), max: Math.round(Math.max(...wire)) },
      cpuPercentPerProcess: { mean: +mean(cpu).toFixed(2), max: +Math.max(...cpu).toFixed(2) },
      rssMiBPerProcess: {
        mean: +(mean(u1.map((u) => u.rss)) / 2 ** 20).toFixed(1),
        max: +(Math.max(...u1.map((u) => u.rss)) / 2 ** 20).toFixed(1),
      },
      load1: { min: Math.min(...loads), mean: +mean(loads).toFixed(1), max: Math.max(...loads) },
    }
    log(`${n}: idle`, JSON.stringify(idle))
    const victim = nodes[Math.floor(n / 2)]!
    await victim.kill9()
    const loadAtKill = load1()
    const others = nodes.filter((x) => x !== victim)
    const killDetectMs = await timeUntil(
      async () =>
        (await Promise.all(others.map((x) => x.send<States>('states')))).every(
          (s) => s.notAlive[victim.peerId] === 'dead',
        ),
      60_000,
      pollMs,
    )
    const after = await Promise.all(others.map((x) => x.send<States>('states')))
    const othersNotAlive = after.reduce(
      (sum, s) => sum + Object.keys(s.notAlive).filter((id) => id !== victim.peerId).length,
      0,
    )
    log(`${n}: kill -9 seen dead by all in ${killDetectMs} ms (load ${loadAtKill})`)
    return {
      nodes: n,
      convergeMs,
      loadAtJoin,
      killDetectMs,
      loadAtKill,
      othersNotAliveAfterKill: othersNotAlive,
      idle,
    }
  } finally {
    await inBatches(nodes, 16, (x) => (x ? x.quit() : Promise.resolve()))
  }
}

function arg(name: string): string | undefined {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`))
  return a?.slice(name.length + 3)
}

export async function benchCluster(
  opts: { sizes?: number[]; idleMs?: number } = {},
): Promise<Record<string, unknown>> {
  const sizes = opts.sizes ?? arg('sizes')?.split(',').map(Number) ?? [10, 50, 100]
  const idleMs = opts.idleMs ?? Number(arg('idle-s') ?? 300) * 1000
  const root = await mkdtemp(join(tmpdir(), 'fnagent-bench-cluster-'))
  // The node processes (which inherit this environment) run with the Node flags and environment
  // `fnagent start` gives the daemon (cli/launch.ts), so their idle RSS compares with an agent's.
  const saved = { ...process.env }
  Object.assign(process.env, DAEMON_ENV, {
    NODE_OPTIONS: [process.env.NODE_OPTIONS, ...DAEMON_NODE_FLAGS].filter(Boolean).join(' '),
  })
  try {
    const keyFile = join(root, 'cluster.key')
    await writeClusterKey(keyFile)
    const runs = []
    for (const n of sizes) runs.push(await runSize(n, root, keyFile, idleMs))
    const first = runs[0]!.idle
    const last = runs.at(-1)!.idle
    return {
      processes:
        'cluster-only: test/cluster/fixtures/node-process.ts (the daemon’s Cluster, default cluster options, daemon Node flags from cli/launch.ts), one per 127.0.0.x address, joined in a chain',
      runs,
      // The headline: per-node idle cost at the largest size over the smallest (1.0 = independent of N).
      ratioLargestToSmallest: {
        cpu: +(last.cpuPercentPerProcess.mean / Math.max(0.01, first.cpuPercentPerProcess.mean)).toFixed(2),
        wire: +(
          last.wireBytesInPerNodePerSec.mean / Math.max(1, first.wireBytesInPerNodePerSec.mean)
        ).toFixed(2),
        rss: +(last.rssMiBPerProcess.mean / first.rssMiBPerProcess.mean).toFixed(2),
      },
    }
  } finally {
    process.env = saved
    await rm(root, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchCluster(), null, 2))
}
