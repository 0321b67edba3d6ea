import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cleanup } from '../test/helpers/agent-process.ts'
import { createCluster, peersOf } from '../test/helpers/cluster.ts'
import { round } from './stats.ts'

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))
  return round(Number(line?.split(/\s+/)[1] ?? 0) / 1024, 1)
}

/**
 * Ten real agents left idle (no stem cells): every member's view polled every 2 s, counting any
 * live member seen as not alive (a false 'dead'), and each agent's RSS at the start and the end.
 */
export async function benchIdle(
  opts: { agents?: number; minutes?: number; nodeOptions?: string } = {},
): Promise<Record<string, unknown>> {
  const n = opts.agents ?? 10
  // As the Ansible unit runs the agent (NODE_OPTIONS=--max-semi-space-size=1) unless told otherwise.
  const nodeOptions = opts.nodeOptions ?? '--max-semi-space-size=1'
  const ms = (opts.minutes ?? 2) * 60_000
  const cleanup = new Cleanup()
  try {
    const c = await createCluster(n, cleanup, {
      env: { FNAGENT_LOG_LEVEL: 'warn', FNAGENT_INVOKER_PREWARM: '[]' },
    })
    await sleep(5000) // settle after the joins
    const rss0 = c.agents.map((a) => rssMiB(a.proc.pid!))
    let falseDead = 0
    let polls = 0
    const end = Date.now() + ms
    while (Date.now() < end) {
      for (const a of c.agents) {
        const view = await peersOf(a)
        polls++
        falseDead += view.filter((m) => m.state !== 'alive').length
      }
      await sleep(2000)
    }
    const rss1 = c.agents.map((a) => rssMiB(a.proc.pid!))
    const mean = (xs: number[]) => round(xs.reduce((s, x) => s + x, 0) / xs.length, 1)
    return {
      agents: n,
      nodeOptions,
      idleMinutes: ms / 60_000,
      viewPolls: polls,
      falseNotAlive: falseDead,
      rssMiB: {
        startMean: mean(rss0),
        endMean: mean(rss1),
        startMax: Math.max(...rss0),
        endMax: Math.max(...rss1),
      },
    }
  } finally {
    await cleanup.run()
  }
}

if (import.meta.main) {
  const minutes = Number(process.argv[2] ?? 2)
  console.log(JSON.stringify(await benchIdle({ minutes }), null, 2))
}
