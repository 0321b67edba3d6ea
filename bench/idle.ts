import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { type AgentHandle, Cleanup } from '../test/helpers/agent-process.ts'
import { createCluster, peersOf } from '../test/helpers/cluster.ts'
import { round } from './stats.ts'

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))
  return round(Number(line?.split(/\s+/)[1] ?? 0) / 1024, 1)
}

/** The Node flags the agent really runs with (cli/bin.js adds the daemon's own). */
function nodeFlags(pid: number): string[] {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  return argv.slice(
    1,
    argv.findIndex((a) => a.endsWith('cli/bin.js')),
  )
}

const mean = (xs: number[]) => round(xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length), 1)

/** Mean and max RSS over the agents, and their mean V8 heap as each agent reports it (`status`). */
async function sample(agents: AgentHandle[]) {
  const rss = agents.map((a) => rssMiB(a.proc.pid!))
  const heap = await Promise.all(
    agents.map(async (a) => {
      const status = JSON.parse((await a.cli(['--json', 'status'])).stdout)
      return status.memory as { heapUsed: number; heapTotal: number }
    }),
  )
  return {
    rssMean: mean(rss),
    rssMax: Math.max(...rss),
    heapUsedMean: mean(heap.map((h) => h.heapUsed)),
    heapTotalMean: mean(heap.map((h) => h.heapTotal)),
  }
}

/**
 * Ten real agents left idle (no prewarmed containers), started as `fnagent start` (so with the daemon's own
 * Node flags): every member's view polled every 2 s, counting any live member seen as not alive (a
 * false 'dead'), and the agents' RSS (from /proc) and heap at the start and then every minute.
 */
export async function benchIdle(
  opts: { agents?: number; minutes?: number } = {},
): Promise<Record<string, unknown>> {
  const n = opts.agents ?? 10
  const minutes = opts.minutes ?? 2
  const cleanup = new Cleanup()
  try {
    const c = await createCluster(n, cleanup, {
      env: { FNAGENT_LOG_LEVEL: 'warn', FNAGENT_INVOKER_PREWARM: '[]' },
    })
    await sleep(5000) // settle after the joins
    const samples = [{ minute: 0, ...(await sample(c.agents)) }]
    let falseDead = 0
    let polls = 0
    const start = Date.now()
    for (let minute = 1; minute <= minutes; minute++) {
      while (Date.now() < start + minute * 60_000) {
        for (const a of c.agents) {
          const view = await peersOf(a)
          polls++
          falseDead += view.filter((m) => m.state !== 'alive').length
        }
        await sleep(2000)
      }
      samples.push({ minute, ...(await sample(c.agents)) })
    }
    const first = samples[0]!
    const last = samples[samples.length - 1]!
    return {
      agents: n,
      nodeFlags: nodeFlags(c.agents[0]!.proc.pid!),
      idleMinutes: minutes,
      viewPolls: polls,
      falseNotAlive: falseDead,
      rssMiB: {
        startMean: first.rssMean,
        endMean: last.rssMean,
        startMax: first.rssMax,
        endMax: last.rssMax,
      },
      perMinute: samples,
    }
  } finally {
    await cleanup.run()
  }
}

if (import.meta.main) {
  const minutes = Number(process.argv[2] ?? 2)
  console.log(JSON.stringify(await benchIdle({ minutes }), null, 2))
}
