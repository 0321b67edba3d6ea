/**
 * Cluster benchmark, with real node processes on 127.0.0.1 and the default timings:
 * time until every view is complete after the last join (nodes joined in a chain), time until
 * every other node marks a kill -9'd node dead, gossip messages and bytes per node per second
 * (measured, then computed for 10/100/1000 nodes from the measured sizes), idle RSS and CPU.
 *
 *   node_modules/.bin/node bench/cluster.ts [5,10,20]
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { heartbeatPeriodMs } from '../agent/cluster/delta.ts'
import { CLUSTER_DEFAULTS, writeClusterKey } from '../agent/cluster/index.ts'
import { encodeMessage } from '../agent/cluster/messages.ts'
import { formatHlc } from '../agent/store/hlc.ts'
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '../cli/launch.ts'
import { allAlive, type NodeProcess, spawnNode } from '../test/cluster/fixtures/processes.ts'

const exec = promisify(execFile)

type Stats = { received: number; bytesIn: number; published: number; bytesOut: number }
type Usage = { rss: number; cpu: { user: number; system: number } }

/** Polls until `check` holds; returns the elapsed ms. */
async function timeUntil(check: () => Promise<boolean>, limitMs: number): Promise<number> {
  const t0 = performance.now()
  while (!(await check())) {
    if (performance.now() - t0 > limitMs) return Number.NaN
    await sleep(50)
  }
  return Math.round(performance.now() - t0)
}

/** TCP bytes received per process id (all its established sockets), from `ss -tinp`. */
async function wireReceived(): Promise<Map<number, number>> {
  const { stdout } = await exec('ss', ['-tinpH', 'state', 'established'])
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

async function runSize(n: number, root: string, keyFile: string, windowMs: number) {
  const nodes: NodeProcess[] = []
  try {
    for (let i = 0; i < n; i++) nodes.push(await spawnNode({ dir: join(root, `${n}-${i}`), keyFile }))
    for (let i = 1; i < n; i++) await nodes[i].send(`join ${nodes[i - 1].addrs[0]}`)
    const convergeMs = await timeUntil(() => allAlive(nodes), 60_000)
    // Idle gossip over a window.
    const s0 = await Promise.all(nodes.map((x) => x.send<Stats>('stats')))
    const u0 = await nodes[0].send<Usage>('usage')
    const w0 = await wireReceived()
    await sleep(windowMs)
    const s1 = await Promise.all(nodes.map((x) => x.send<Stats>('stats')))
    const u1 = await nodes[0].send<Usage>('usage')
    const w1 = await wireReceived()
    const per = (f: (a: Stats, b: Stats) => number) =>
      s1.reduce((sum, b, i) => sum + f(s0[i], b), 0) / n / (windowMs / 1000)
    const gossip = {
      msgsInPerNodePerSec: +per((a, b) => b.received - a.received).toFixed(1),
      payloadBytesInPerNodePerSec: Math.round(per((a, b) => b.bytesIn - a.bytesIn)),
      avgPayloadBytes: Math.round(
        s1.reduce((s, b, i) => s + b.bytesOut - s0[i].bytesOut, 0) /
          Math.max(
            1,
            s1.reduce((s, b, i) => s + b.published - s0[i].published, 0),
          ),
      ),
      wireBytesInPerNodePerSec: Math.round(
        nodes.reduce((s, x) => s + (w1.get(x.pid) ?? 0) - (w0.get(x.pid) ?? 0), 0) / n / (windowMs / 1000),
      ),
    }
    const idle = {
      rssMiB: +(u1.rss / 2 ** 20).toFixed(1),
      cpuPercent: +(
        ((u1.cpu.user + u1.cpu.system - u0.cpu.user - u0.cpu.system) / 1000 / windowMs) *
        100
      ).toFixed(2),
    }
    const victim = nodes[Math.floor(n / 2)]
    await victim.kill9()
    const others = nodes.filter((x) => x !== victim)
    const killDetectMs = await timeUntil(
      async () =>
        (await Promise.all(others.map((x) => x.view()))).every(
          (v) => v.find((m) => m.peerId === victim.peerId)?.state === 'dead',
        ),
      60_000,
    )
    return { nodes: n, convergeMs, killDetectMs, gossip, idle }
  } finally {
    await Promise.all(nodes.map((x) => x.quit()))
  }
}

/** Heartbeat sizes (JSON payload) of a node with a realistic inventory. */
function messageSizes() {
  const cap = {
    cpus: 8,
    load: 37,
    memTotalMiB: 32_096,
    memFreeMiB: 20_480,
    budgetMiB: 16_048,
    budgetFreeMiB: 9_216,
    freeSlots: 12,
    inflight: 3,
  }
  const head = {
    v: 1 as const,
    peer: '12D3KooWJP72vgqxWpD3EHHKrbduDfE4tAQ8Rq9LWYQH8wGYzXVu',
    seq: Date.now(),
    hlc: formatHlc(Date.now(), 3),
    iv: 1000,
  }
  const warm = Object.fromEntries(
    Array.from({ length: 20 }, (_, i) => [`guest/function-${i}@3`, 1 + (i % 3)]),
  )
  const full = encodeMessage({
    ...head,
    t: 'full',
    ver: '0.1.0',
    addrs: ['/ip4/10.0.0.15/tcp/7700', '/ip4/192.168.1.15/tcp/7700'],
    cap,
    warm,
    prewarm: { 'nodejs:24@256': 2, 'python:3@256': 1 },
    blobs: Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(64, 'a')),
  }).byteLength
  const emptyDelta = encodeMessage({ ...head, t: 'delta', base: head.seq - 5000 }).byteLength
  const typicalDelta = encodeMessage({
    ...head,
    t: 'delta',
    base: head.seq - 5000,
    cap: { load: 41, budgetFreeMiB: 8960, freeSlots: 11, inflight: 4 },
    warm: { 'guest/function-3@3': 2 },
  }).byteLength
  return { full, typicalDelta, emptyDelta }
}

/** Messages and payload bytes each node receives per second at `n` nodes, by the period rule. */
function projected(sizes: ReturnType<typeof messageSizes>, envelope: number, wireFactor: number) {
  const o = CLUSTER_DEFAULTS
  const avg = (sizes.full + (o.fullEvery - 1) * sizes.typicalDelta) / o.fullEvery + envelope
  return Object.fromEntries(
    [10, 100, 1000].map((n) => {
      const period = heartbeatPeriodMs(n, o)
      const msgs = n / (period / 1000)
      return [
        n,
        {
          periodMs: period,
          fullEveryMs: period * o.fullEvery,
          msgsPerSec: msgs,
          bytesPerSec: Math.round(msgs * avg),
          wireBytesPerSec: Math.round(msgs * avg * wireFactor),
        },
      ]
    }),
  )
}

export async function benchCluster(
  opts: { sizes?: number[]; windowMs?: number } = {},
): Promise<Record<string, unknown>> {
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
    for (const n of opts.sizes ?? [5, 10, 20])
      runs.push(await runSize(n, root, keyFile, opts.windowMs ?? 10_000))
    const sizes = messageSizes()
    // gossipsub envelope per message: from (40), seqno (10), topic (21), signature (66), framing (~8).
    const envelope = 145
    // Wire bytes (duplicates from mesh peers, gossip control, noise/yamux framing, pings) per
    // payload byte, measured on the largest run, scale the projection.
    const last = runs.at(-1)!.gossip
    const wireFactor = +(
      last.wireBytesInPerNodePerSec / Math.max(1, last.payloadBytesInPerNodePerSec)
    ).toFixed(1)
    return {
      runs,
      messageBytes: { ...sizes, envelope },
      wireFactor,
      projectedPerNode: projected(sizes, envelope, wireFactor),
    }
  } finally {
    process.env = saved
    await rm(root, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sizes = process.argv[2] ? (JSON.parse(process.argv[2]) as number[]) : undefined
  console.log(JSON.stringify(await benchCluster({ sizes }), null, 2))
}
