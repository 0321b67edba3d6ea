/**
 * Intra-container concurrency (issue 23): a 100 ms I/O-bound nodejs function in one 256 MiB
 * container (a budget of 256 MiB: no second container fits), at `limits.concurrency` 1 and 50.
 * 50 callers in closed loops for `seconds`; in front of the invoker a FIFO of the container's slots
 * stands in for the queue a caller waits in when every slot is taken, so `latency` is what a caller
 * waits in all and `inContainer` the invocation itself.
 *
 *   npm run bench -- concurrency        (also part of `invoke-path`; needs Docker and the runtime image)
 */
import { randomBytes } from 'node:crypto'
import { loadavg } from 'node:os'
import Dockerode from 'dockerode'
import { Invoker } from '../agent/invoker/index.ts'
import { silentLogger } from '../agent/log.ts'
import { HybridClock } from '../agent/store/hlc.ts'
import { DEFAULT_LIMITS, type FunctionRecord, newActivationId } from '../agent/store/types.ts'
import { ensureRuntimes } from '../runtimes/build/index.ts'
import { round, summarize } from './stats.ts'

const NETWORK = 'fnagent-bench-functions'
const CODE = Buffer.from(
  'async function main(p) { await new Promise((r) => setTimeout(r, 100)); return { n: p.n } }',
)

/** The container's slots as a FIFO: at most `size` invocations in flight, the rest wait in order. */
class Slots {
  #free: number
  readonly #waiting: (() => void)[] = []
  constructor(size: number) {
    this.#free = size
  }
  async take(): Promise<void> {
    if (this.#free > 0) {
      this.#free--
      return
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve))
  }
  give(): void {
    const next = this.#waiting.shift()
    if (next) next()
    else this.#free++
  }
}

export async function benchConcurrency(
  opts: { callers?: number; seconds?: number; levels?: number[] } = {},
): Promise<Record<string, unknown>> {
  const callers = opts.callers ?? 50
  const seconds = opts.seconds ?? 10
  const docker = new Dockerode()
  const out: Record<string, unknown> = {
    what: `100 ms I/O-bound function, one 256 MiB container, ${callers} callers for ${seconds} s; goal >= 20x throughput at 50`,
    loadBefore: loadavg().map((l) => round(l)),
  }
  const perSec: Record<number, number> = {}
  for (const concurrency of opts.levels ?? [1, 50]) {
    const nodeId = `bench-${randomBytes(4).toString('hex')}`
    const inv = new Invoker(
      { logger: silentLogger(), docker, nodeId, clock: new HybridClock(), systemMemoryMiB: async () => 8192 },
      { network: NETWORK, memoryBudgetMiB: 256, prewarm: [], pauseGraceMs: 0 },
    )
    await inv.start()
    try {
      // Just before the container is created: a checkout with other runtime sources (another
      // worktree's tests) may have rebuilt the shared image tag since.
      await ensureRuntimes(docker, { kinds: ['nodejs:24'] })
      const fn = fnRecord(concurrency)
      const first = await inv.invoke(req(fn, 0))
      if (first.response.status !== 'success') throw new Error(`bench: ${JSON.stringify(first.response)}`)
      const slots = new Slots(concurrency)
      const latency: number[] = []
      const inContainer: number[] = []
      let failed = 0
      const t0 = performance.now()
      const until = t0 + seconds * 1000
      await Promise.all(
        Array.from({ length: callers }, async (_, caller) => {
          while (performance.now() < until) {
            const asked = performance.now()
            await slots.take()
            const started = performance.now()
            try {
              const r = await inv.invoke(req(fn, caller))
              if (r.response.status !== 'success') failed++
            } catch {
              failed++
            } finally {
              slots.give()
            }
            const ended = performance.now()
            latency.push(ended - asked)
            inContainer.push(ended - started)
          }
        }),
      )
      const elapsed = (performance.now() - t0) / 1000
      perSec[concurrency] = round(latency.length / elapsed, 1)
      out[`concurrency${concurrency}`] = {
        perSec: perSec[concurrency],
        latencyMs: summarize(latency),
        inContainerMs: summarize(inContainer),
        failed,
        containers: inv.state().warm[`bench/${fn.name}@1`] ?? 0,
      }
    } finally {
      await inv.stop()
    }
  }
  const [low, high] = opts.levels ?? [1, 50]
  if (low !== undefined && high !== undefined && perSec[low]) {
    out.throughputRatio = round((perSec[high] ?? 0) / perSec[low], 1)
  }
  out.loadAfter = loadavg().map((l) => round(l))
  return out
}

function fnRecord(concurrency: number): FunctionRecord {
  const hlc = new HybridClock().now()
  return {
    namespace: 'bench',
    name: `c${concurrency}-${randomBytes(4).toString('hex')}`,
    version: 1,
    kind: 'nodejs:24',
    main: 'main',
    binary: false,
    codeSize: CODE.length,
    parameters: {},
    annotations: {},
    env: {},
    limits: { ...DEFAULT_LIMITS, memory: 256, timeout: 10_000, concurrency, logs: 1 },
    created: hlc,
    updated: hlc,
    origin: 'bench',
  }
}

function req(fn: FunctionRecord, n: number) {
  return { fn, code: CODE, params: { n }, activationId: newActivationId() }
}
