/**
 * What the metrics cost the warm path: rounds of two fresh agents on this machine, one with metrics
 * on (scraped every `scrapeMs`: 15 s by default, as Prometheus is usually set; 1000 is the stress case) and one with them off, the
 * same function warm on each; warm invocations through the local API alternate between them in
 * blocks of ten, so both see the same machine load. Which of the two processes (started first or
 * second) has metrics on alternates by round, and each round's p50 ratio is one sample: the
 * summary is their mean with a 95% confidence interval. `aa`: both agents with metrics on (the
 * noise floor of the same design).
 *
 *   node_modules/.bin/node bench/metrics.ts [iterations per agent and round] [aa|ab] [rounds] [scrape every ms]
 */
import { writeFileSync } from 'node:fs'
import { Agent as HttpAgent } from 'node:http'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { AgentMetrics } from '../agent/metrics/index.ts'
import type { ActivationRecord } from '../agent/store/types.ts'
import { type AgentHandle, cli, removeDir, startAgent, tempDir } from '../test/helpers/agent-process.ts'
import { waitFor } from '../test/helpers/wait-for.ts'
import { socketCall } from './local-api.ts'
import { round, summarize } from './stats.ts'

const ON = { FNAGENT_LOG_LEVEL: 'info', FNAGENT_METRICS_LISTEN: '127.0.0.1:0' }
const OFF = { FNAGENT_LOG_LEVEL: 'info', FNAGENT_METRICS_ENABLED: 'false' }

export async function benchMetrics(
  opts: { iterations?: number; sameConfig?: boolean; rounds?: number; scrapeMs?: number } = {},
): Promise<Record<string, unknown>> {
  const n = opts.iterations ?? 1000
  const rounds = opts.rounds ?? 6
  const scrapeMs = opts.scrapeMs ?? 15_000
  const dir = tempDir()
  writeFileSync(join(dir, 'hello.js'), "function main(p) { return { payload: 'Hello, ' + p.name } }\n")
  const results: RoundResult[] = []
  const load = [loadavg()[0]!]
  try {
    for (let r = 0; r < rounds; r++) {
      results.push(await oneRound(dir, n, r % 2 === 0, opts.sameConfig === true, scrapeMs))
      load.push(loadavg()[0]!)
    }
  } finally {
    removeDir(dir)
  }
  const ratios = results.map((x) => x.p50Ratio)
  return {
    what: `warm invoke through the local API, metrics ${opts.sameConfig ? 'on vs on (A/A)' : `on (scraped every ${scrapeMs / 1000} s) vs off`}, ${rounds} rounds of fresh agent pairs, alternating blocks of 10`,
    hooks: await countingCost(),
    rounds: results,
    p50Ratio: { ...meanCi(ratios), perRound: ratios },
    meanRatio: meanCi(results.map((x) => x.meanRatio)),
    loadAverage1m: { min: round(Math.min(...load)), max: round(Math.max(...load)) },
  }
}

interface RoundResult {
  metricsOnStartedFirst: boolean
  metricsOn: ReturnType<typeof summarize>
  metricsOff: ReturnType<typeof summarize>
  scrapes: number
  p50Ratio: number
  meanRatio: number
}

async function oneRound(
  dir: string,
  n: number,
  onFirst: boolean,
  sameConfig: boolean,
  scrapeMs: number,
): Promise<RoundResult> {
  const started: AgentHandle[] = []
  const http = new HttpAgent({ keepAlive: true, maxSockets: 2 })
  let scraper: NodeJS.Timeout | undefined
  try {
    // `sameConfig`: both on (an A/A run: the noise between two agents on this machine).
    for (const on of onFirst ? [true, false] : [false, true])
      started.push(await startAgent({ args: ['--no-cluster'], env: on || sameConfig ? ON : OFF }))
    const [on, off] = (onFirst ? started : [...started].reverse()) as [AgentHandle, AgentHandle]
    const url = await waitFor(
      () => /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"metrics listening"/.exec(on.output())?.[1] ?? '',
      { what: 'the metrics listener', timeoutMs: 30_000 },
    )
    for (const a of [on, off]) {
      const created = await cli(['--socket', a.socket, 'fn', 'create', 'hello', join(dir, 'hello.js')])
      if (created.code !== 0) throw new Error(created.stderr)
    }
    const invoke = async (socket: string) => {
      const t0 = performance.now()
      await socketCall(socket, http, 'POST', '/v1/functions/hello/invoke', { params: { name: 'bench' } })
      return performance.now() - t0
    }
    for (let i = 0; i < 50; i++) {
      await invoke(on.socket)
      await invoke(off.socket)
    }
    let scrapes = 0
    scraper = setInterval(() => {
      fetch(`${url}/metrics`)
        .then((r) => r.text())
        .then(() => scrapes++)
        .catch(() => {})
    }, scrapeMs)
    const withMetrics: number[] = []
    const without: number[] = []
    for (let i = 0; i < n; i += 10) {
      const [first, second] = (i / 10) % 2 === 0 ? [on, off] : [off, on]
      for (const a of [first, second]) {
        const into = a === on ? withMetrics : without
        for (let j = 0; j < 10; j++) into.push(await invoke(a.socket))
      }
    }
    const a = summarize(withMetrics)
    const b = summarize(without)
    return {
      metricsOnStartedFirst: onFirst,
      metricsOn: a,
      metricsOff: b,
      scrapes,
      p50Ratio: round(a.p50 / b.p50, 3),
      meanRatio: round(a.mean / b.mean, 3),
    }
  } finally {
    if (scraper) clearInterval(scraper)
    http.destroy()
    await Promise.all(started.map((a) => a.stop()))
    for (const a of started) removeDir(a.dataDir)
  }
}

/** Mean and a 95% confidence interval (Student's t) of a few samples. */
function meanCi(xs: number[]): { mean: number; ci95: [number, number] } {
  const k = xs.length
  const mean = xs.reduce((a, b) => a + b, 0) / k
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / Math.max(1, k - 1))
  // t(0.975) for 1..12 degrees of freedom; beyond, about 2.
  const t = [12.71, 4.3, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.2, 2.18][k - 2] ?? 2
  const half = k > 1 ? (t * sd) / Math.sqrt(k) : Number.NaN
  return { mean: round(mean, 4), ci95: [round(mean - half, 4), round(mean + half, 4)] }
}

if (import.meta.main) {
  const iterations = Number(process.argv[2] ?? 1000)
  const sameConfig = process.argv[3] === 'aa'
  const rounds = Number(process.argv[4] ?? 6)
  const scrapeMs = Number(process.argv[5] ?? 15_000)
  console.log(JSON.stringify(await benchMetrics({ iterations, sameConfig, rounds, scrapeMs }), null, 2))
  process.exit(0)
}

/**
 * What the counting costs one invocation in-process (the invoker's, placement's and the runner's
 * increments and observations), µs: the part of the difference above that is the metrics' own.
 */
async function countingCost(): Promise<{ usPerInvocation: number; scrapeMs: number }> {
  const dbDir = tempDir()
  const m = new AgentMetrics(
    {
      invoker: () => ({
        budgetMiB: 1,
        budgetFreeMiB: 1,
        freeSlots: 1,
        inflight: 0,
        warm: {},
        warmSlots: {},
        prewarm: {},
      }),
      replication: () => ({
        underReplicated: 0,
        lastRepair: null,
        repairs: 0,
        dropped: {},
        bytesOut: 0,
        bytesIn: 0,
        catchingUp: 0,
      }),
      dbDir,
    },
    { maxFunctions: 100 },
  )
  const record = {
    namespace: 'guest',
    name: 'hello',
    duration: 2,
    response: { status: 'success' },
  } as ActivationRecord
  const n = 200_000
  const once = () => {
    m.activation({ record, start: 'warm', waitMs: 1 })
    m.invocation(record, 2)
    m.placement.placed('local', 'warm', 1)
  }
  for (let i = 0; i < 20_000; i++) once()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) once()
  const usPerInvocation = round(((performance.now() - t0) * 1000) / n)
  const t1 = performance.now()
  await m.scrape()
  const scrapeMs = round(performance.now() - t1)
  removeDir(dbDir)
  return { usPerInvocation, scrapeMs }
}
