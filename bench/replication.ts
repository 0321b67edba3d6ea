/**
 * Replication benchmark, in one process over real libp2p on 127.0.0.1 and real LevelDB (temp dirs):
 * - lag of activation records: time from `activationStored` on the runner until every owner has
 *   confirmed its copy (3 nodes, R = 3), at a steady rate;
 * - idle anti-entropy traffic per node (default period, nothing changing);
 * - catch-up: time for a new node to hold all of 100,000 activation records another node has.
 *
 *   node_modules/.bin/node bench/replication.ts [RECORDS]
 */
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { activation, createReplicated, type ReplNode } from '../test/replication/fixtures.ts'
import { round, summarize } from './stats.ts'

/**
 * Works around a bug in `xsalsa20` (the cipher of @libp2p/pnet): its wasm memory is shared by every
 * connection; once one chunk over 640 KiB grows it, every other instance's view is detached and
 * each of their next updates grows it again, up to the 64 MiB maximum, and the process dies with
 * "WebAssembly.Memory.grow(): Maximum memory size exceeded". Growing it once, before any connection
 * exists, avoids the cascade for chunks under the size grown. Reported to the cluster owner.
 */
function preGrowPnetMemory(bytes = 32 * 1024 * 1024): void {
  const require = createRequire(import.meta.url)
  const xsalsa20 = require('xsalsa20') as (
    nonce: Uint8Array,
    key: Uint8Array,
  ) => { update(b: Uint8Array): void }
  xsalsa20(new Uint8Array(24), new Uint8Array(32)).update(new Uint8Array(bytes))
}

async function timeUntil(check: () => Promise<boolean>, limitMs: number): Promise<number> {
  const t0 = performance.now()
  while (!(await check())) {
    if (performance.now() - t0 > limitMs) throw new Error(`not done within ${limitMs} ms`)
    await sleep(1000)
  }
  return performance.now() - t0
}

async function lagAndIdle(): Promise<Record<string, unknown>> {
  const c = await createReplicated({ n: 3, options: { antiEntropyMs: 5000 } })
  try {
    const a = c.nodes[0] as ReplNode
    const lags: number[] = []
    const rate = 200
    const inflight: Promise<void>[] = []
    for (let i = 0; i < 1000; i++) {
      const rec = activation(a)
      await a.store.activations.put(rec)
      const t0 = performance.now()
      inflight.push(
        a.replication.activationStored(rec, 3).then(({ copies }) => {
          if (copies === 3) lags.push(performance.now() - t0)
        }),
      )
      await sleep(1000 / rate)
    }
    await Promise.all(inflight)
    // Idle: let repair finish, then count replication bytes over a window.
    await sleep(6000)
    const before = c.nodes.map((n) => n.replication.status())
    const windowMs = 20_000
    await sleep(windowMs)
    const after = c.nodes.map((n) => n.replication.status())
    const perNode = after.map(
      (s, i) => (s.bytesIn + s.bytesOut - before[i]!.bytesIn - before[i]!.bytesOut) / (windowMs / 1000),
    )
    const lag = summarize(lags)
    return {
      lagMs: {
        records: lags.length,
        ratePerSec: rate,
        p50: round(lag.p50),
        p99: round(lag.p99),
        mean: round(lag.mean),
      },
      idleAntiEntropy: {
        nodes: 3,
        records: 1000,
        antiEntropyMs: 5000,
        bytesPerSecPerNode: round(perNode.reduce((x, y) => x + y) / perNode.length, 1),
      },
    }
  } finally {
    await c.stop()
  }
}

async function catchUp(records: number): Promise<Record<string, unknown>> {
  const c = await createReplicated({ n: 1 })
  try {
    const a = c.nodes[0] as ReplNode
    const t0 = performance.now()
    for (let i = 0; i < records; i += 500) {
      const batch = Array.from({ length: Math.min(500, records - i) }, () => activation(a))
      await Promise.all(batch.map((r) => a.store.activations.put(r)))
      for (const r of batch) await a.replication.activationStored(r)
    }
    const fillMs = performance.now() - t0
    const b = await c.add()
    const ms = await timeUntil(async () => (await b.store.activations.count()) >= records, 600_000)
    const s = b.replication.status()
    return {
      records,
      fillMs: round(fillMs, 0),
      catchUpMs: round(ms, 0),
      recordsPerSec: round(records / (ms / 1000), 0),
      bytesIn: s.bytesIn,
      repairs: s.repairs,
    }
  } finally {
    await c.stop()
  }
}

export async function benchReplication(opts: { records?: number } = {}): Promise<Record<string, unknown>> {
  preGrowPnetMemory()
  return {
    ...(await lagAndIdle()),
    catchUp: await catchUp(opts.records ?? 100_000),
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const records = process.argv[2] ? Number(process.argv[2]) : undefined
  console.log(JSON.stringify(await benchReplication({ records }), null, 2))
  process.exit(0)
}
