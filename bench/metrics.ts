/**
 * What the metrics cost the warm path: two agents on this machine, one with metrics on (scraped
 * every second, far more often than Prometheus's usual 15 s) and one with them off, the same
 * function warm on each; warm invocations through the local API alternate between them in blocks
 * of ten, so both see the same machine load.
 *
 *   node_modules/.bin/node bench/metrics.ts [iterations] [aa]   (aa: both agents with metrics on)
 */
import { writeFileSync } from 'node:fs'
import { Agent as HttpAgent } from 'node:http'
import { join } from 'node:path'
import { AgentMetrics } from '../agent/metrics/index.ts'
import type { ActivationRecord } from '../agent/store/types.ts'
import { cli, removeDir, startAgent, tempDir } from '../test/helpers/agent-process.ts'
import { waitFor } from '../test/helpers/wait-for.ts'
import { socketCall } from './local-api.ts'
import { round, summarize } from './stats.ts'

export async function benchMetrics(
  opts: { iterations?: number; sameConfig?: boolean } = {},
): Promise<Record<string, unknown>> {
  const n = opts.iterations ?? 1000
  const dir = tempDir()
  writeFileSync(join(dir, 'hello.js'), "function main(p) { return { payload: 'Hello, ' + p.name } }\n")
  const on = await startAgent({
    args: ['--no-cluster'],
    env: { FNAGENT_LOG_LEVEL: 'info', FNAGENT_METRICS_LISTEN: '127.0.0.1:0' },
  })
  const off = await startAgent({
    args: ['--no-cluster'],
    // `sameConfig`: both on (an A/A run: the noise between two agents on this machine).
    env: opts.sameConfig
      ? { FNAGENT_LOG_LEVEL: 'info', FNAGENT_METRICS_LISTEN: '127.0.0.1:0' }
      : { FNAGENT_LOG_LEVEL: 'info', FNAGENT_METRICS_ENABLED: 'false' },
  })
  const http = new HttpAgent({ keepAlive: true, maxSockets: 2 })
  let scraper: NodeJS.Timeout | undefined
  try {
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
    for (let i = 0; i < 30; i++) {
      await invoke(on.socket)
      await invoke(off.socket)
    }
    let scrapes = 0
    scraper = setInterval(() => {
      fetch(`${url}/metrics`)
        .then((r) => r.text())
        .then(() => scrapes++)
        .catch(() => {})
    }, 1000)
    const withMetrics: number[] = []
    const without: number[] = []
    for (let i = 0; i < n; i += 10) {
      const [first, second] = (i / 10) % 2 === 0 ? [on, off] : [off, on]
      for (const a of [first!, second!]) {
        const into = a === on ? withMetrics : without
        for (let j = 0; j < 10; j++) into.push(await invoke(a.socket))
      }
    }
    const a = summarize(withMetrics)
    const b = summarize(without)
    return {
      what: 'warm invoke through the local API, metrics on (scraped every 1 s) vs off, alternating blocks of 10',
      hooks: await countingCost(),
      metricsOn: a,
      metricsOff: b,
      scrapes,
      p50Ratio: round(a.p50 / b.p50, 3),
      meanRatio: round(a.mean / b.mean, 3),
    }
  } finally {
    if (scraper) clearInterval(scraper)
    http.destroy()
    await Promise.all([on.stop(), off.stop()])
    removeDir(on.dataDir)
    removeDir(off.dataDir)
    removeDir(dir)
  }
}

if (import.meta.main) {
  const iterations = Number(process.argv[2] ?? 1000)
  console.log(
    JSON.stringify(await benchMetrics({ iterations, sameConfig: process.argv[3] === 'aa' }), null, 2),
  )
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
