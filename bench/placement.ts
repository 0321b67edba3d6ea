import { parseArgs } from 'node:util'
import { type SimOptions, type SimResult, simulateAll } from './sim/run.ts'

/**
 * The placement simulator: the real scoring and candidate code (agent/placement) against an
 * omniscient central scheduler, random, round-robin and OpenWhisk's sharding balancer, on the
 * same trace (Poisson arrivals, Zipf popularity, keep-alive expiry, per-node slots, 1 s stale gossip).
 */
export async function benchPlacement(
  opts: { sizes?: number[]; overrides?: Partial<SimOptions> } = {},
): Promise<SimResult[]> {
  const out: SimResult[] = []
  for (const n of opts.sizes ?? [10, 100, 1000])
    out.push(...simulateAll(n, { ...(n >= 1000 ? { maxArrivals: 200_000 } : {}), ...opts.overrides }))
  return out
}

const ms = (x: number) => x.toFixed(2)
const pct = (x: number) => `${(x * 100).toFixed(2)}%`

export function formatPlacement(rows: SimResult[]): string {
  const lines = [
    '| nodes | policy | invocations | cold-start ratio | queueing delay p50 / p99 ms | placement round trips p50 / p99 ms | placed in more than one hop | total delay p99 ms | imbalance (max/mean) | refusals |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    lines.push(
      `| ${r.nodes} | ${r.policy} | ${r.invocations} | ${pct(r.coldRatio)} | ${ms(r.p50QueueMs)} / ${ms(r.p99QueueMs)} | ${ms(r.p50PlaceMs)} / ${ms(r.p99PlaceMs)} | ${pct(r.multiHop)} | ${ms(r.p99DelayMs)} | ${r.imbalance.toFixed(2)} | ${r.refusals} |`,
    )
  }
  return lines.join('\n')
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { load: { type: 'string' }, seed: { type: 'string' } },
  })
  const fail = (msg: string) => {
    console.error(`${msg}\nusage: node bench/placement.ts [--load 0.5] [--seed 42] [NODES ...]`)
    process.exit(2)
  }
  const sizes = positionals.map(Number)
  for (const [i, n] of sizes.entries())
    if (!Number.isInteger(n) || n < 2) fail(`NODES must be an integer of at least 2, not ${positionals[i]}`)
  const overrides: Partial<SimOptions> = {}
  for (const [k, v] of Object.entries(values)) {
    const x = Number(v)
    if (!Number.isFinite(x) || x <= 0) fail(`--${k} must be a positive number, not ${v}`)
    overrides[k as 'load' | 'seed'] = x
  }
  const t0 = performance.now()
  const rows = await benchPlacement({ ...(sizes.length ? { sizes } : {}), overrides })
  console.log(formatPlacement(rows))
  console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`)
}
