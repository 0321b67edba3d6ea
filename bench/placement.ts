import { parseArgs } from 'node:util'
import type { WalkVariant } from './sim/policies.ts'
import { type SimOptions, type SimResult, simulateAll } from './sim/run.ts'

/**
 * The placement simulator: the real scoring and candidate code (agent/placement) against an
 * omniscient central scheduler, random, round-robin and OpenWhisk's sharding balancer, on the
 * same trace (Poisson arrivals, Zipf popularity, keep-alive expiry, per-node slots, gossip as stale
 * as the agent's: state published on change, at most once per period).
 */
export async function benchPlacement(
  opts: { sizes?: number[]; overrides?: Partial<SimOptions>; walk?: WalkVariant } = {},
): Promise<SimResult[]> {
  const out: SimResult[] = []
  for (const n of opts.sizes ?? [10, 100, 1000])
    out.push(
      ...simulateAll(n, { ...(n >= 1000 ? { maxArrivals: 200_000 } : {}), ...opts.overrides }, opts.walk),
    )
  return out
}

const ms = (x: number) => x.toFixed(2)
const pct = (x: number) => `${(x * 100).toFixed(2)}%`

export function formatPlacement(rows: SimResult[]): string {
  const lines = [
    '| nodes | policy | invocations | cold-start ratio | queueing delay p50 / p99 ms | placement round trips p50 / p99 ms | placed in more than one hop | total delay p99 ms | start latency mean / p99 ms | imbalance (max/mean) | refusals |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    lines.push(
      `| ${r.nodes} | ${r.policy} | ${r.invocations} | ${pct(r.coldRatio)} | ${ms(r.p50QueueMs)} / ${ms(r.p99QueueMs)} | ${ms(r.p50PlaceMs)} / ${ms(r.p99PlaceMs)} | ${pct(r.multiHop)} | ${ms(r.p99DelayMs)} | ${ms(r.meanStartMs)} / ${ms(r.p99StartMs)} | ${r.imbalance.toFixed(2)} | ${r.refusals} |`,
    )
  }
  return lines.join('\n')
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      load: { type: 'string' },
      seed: { type: 'string' },
      hop: { type: 'string' },
      cold: { type: 'string' },
      // Variants of fnagent's walk, for measuring them (docs/performance.md).
      chunk: { type: 'string' },
      'force-after': { type: 'string' },
      'idle-only': { type: 'boolean' },
      // How state reaches the others: change (the agent now) or periodic (before issue 22).
      dissemination: { type: 'string' },
    },
  })
  const fail = (msg: string) => {
    console.error(
      `${msg}\nusage: node bench/placement.ts [--load 0.5] [--seed 42] [--hop 0.3] [--cold 500] [--chunk N] [--force-after N] [--idle-only] [--dissemination change|periodic] [NODES ...]`,
    )
    process.exit(2)
  }
  const sizes = positionals.map(Number)
  for (const [i, n] of sizes.entries())
    if (!Number.isInteger(n) || n < 2) fail(`NODES must be an integer of at least 2, not ${positionals[i]}`)
  const num = (k: string, v: string | undefined, min: number) => {
    const x = Number(v)
    if (v !== undefined && (!Number.isFinite(x) || x < min))
      fail(`--${k} must be a number of at least ${min}, not ${v}`)
    return v === undefined ? undefined : x
  }
  const overrides: Partial<SimOptions> = {}
  const load = num('load', values.load, Number.MIN_VALUE)
  const seed = num('seed', values.seed, 0)
  if (load !== undefined) overrides.load = load
  if (seed !== undefined) overrides.seed = seed
  const hop = num('hop', values.hop, 0)
  const cold = num('cold', values.cold, 0)
  if (hop !== undefined) overrides.hopMs = hop
  if (cold !== undefined) overrides.coldStartMs = cold
  const dissemination = values.dissemination
  if (dissemination !== undefined) {
    if (dissemination !== 'change' && dissemination !== 'periodic')
      fail(`--dissemination must be change or periodic, not ${dissemination}`)
    overrides.dissemination = dissemination as SimOptions['dissemination']
  }
  const walk: WalkVariant = {}
  const chunk = num('chunk', values.chunk, 1)
  const forceAfter = num('force-after', values['force-after'], 0)
  if (chunk !== undefined) walk.chunk = chunk
  if (forceAfter !== undefined) walk.forceAfter = forceAfter
  if (values['idle-only']) walk.idleOnly = true
  const t0 = performance.now()
  const rows = await benchPlacement({
    ...(sizes.length ? { sizes } : {}),
    overrides,
    ...(Object.keys(walk).length ? { walk } : {}),
  })
  console.log(formatPlacement(rows))
  console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`)
}
