import { type SimResult, simulateAll } from './sim/run.ts'

/**
 * The placement simulator: the real scoring and candidate code (agent/placement) against an
 * omniscient central scheduler, random, round-robin and OpenWhisk's sharding balancer, on the
 * same trace (Poisson arrivals, Zipf popularity, keep-alive expiry, per-node slots, 1 s stale gossip).
 */
export async function benchPlacement(opts: { sizes?: number[] } = {}): Promise<SimResult[]> {
  const out: SimResult[] = []
  for (const n of opts.sizes ?? [10, 100, 1000])
    out.push(...simulateAll(n, n >= 1000 ? { maxArrivals: 200_000 } : {}))
  return out
}

export function formatPlacement(rows: SimResult[]): string {
  const lines = [
    '| nodes | policy | invocations | cold-start ratio | p50 delay ms | p99 delay ms | imbalance (max/mean) | refusals |',
    '|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    lines.push(
      `| ${r.nodes} | ${r.policy} | ${r.invocations} | ${(r.coldRatio * 100).toFixed(2)}% | ${r.p50DelayMs.toFixed(2)} | ${r.p99DelayMs.toFixed(2)} | ${r.imbalance.toFixed(2)} | ${r.refusals} |`,
    )
  }
  return lines.join('\n')
}

if (import.meta.main) {
  const sizes = process.argv.slice(2).map(Number).filter(Boolean)
  const t0 = performance.now()
  const rows = await benchPlacement(sizes.length ? { sizes } : {})
  console.log(formatPlacement(rows))
  console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`)
}
