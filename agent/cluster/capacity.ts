import { cpus } from 'node:os'
import si from 'systeminformation'
import type { Logger } from '../log.ts'
import { quantizeCapacity } from './delta.ts'
import type { Capacity } from './messages.ts'

export type LocalCapacity = Pick<Capacity, 'budgetMiB' | 'budgetFreeMiB' | 'freeSlots' | 'inflight'>
type Machine = Pick<Capacity, 'cpus' | 'load' | 'memTotalMiB' | 'memFreeMiB'>

const MiB = 1024 * 1024

/**
 * The machine's CPU count, CPU load (percent busy since the previous sample) and memory, sampled at
 * most every `sampleMs` (a heartbeat reads the cached sample). Memory comes from `systeminformation`
 * (an asynchronous read of /proc/meminfo); CPU busy time from `os.cpus()` deltas, because
 * `si.currentLoad()` runs `cat /proc/stat` through a blocking `execSync`, which stalled the event
 * loop (and every invocation in flight) for milliseconds at each sample.
 */
export class CapacitySampler {
  readonly #logger: Logger
  readonly #sampleMs: number
  #machine: Machine = { cpus: 1, load: 0, memTotalMiB: 0, memFreeMiB: 0 }
  #sampledAt = 0
  #cpuTimes = cpuTimes()
  #sampling: Promise<void> | undefined

  constructor(components: { logger: Logger }, init: { sampleMs: number }) {
    this.#logger = components.logger
    this.#sampleMs = init.sampleMs
  }

  /** Takes a sample now (at start, so the first heartbeat carries real numbers). */
  async sample(): Promise<void> {
    this.#sampling ??= this.#take().finally(() => {
      this.#sampling = undefined
    })
    return this.#sampling
  }

  /** The cached machine figures merged with the invoker's; refreshes in the background when old. */
  current(local: LocalCapacity, now = Date.now()): Capacity {
    if (now - this.#sampledAt >= this.#sampleMs && !this.#sampling) {
      this.sample().catch((err) => this.#logger.warn({ err }, 'capacity sample failed'))
    }
    return quantizeCapacity({ ...this.#machine, ...local })
  }

  async #take(): Promise<void> {
    this.#sampledAt = Date.now()
    const mem = await si.mem()
    const now = cpuTimes()
    const total = now.total - this.#cpuTimes.total
    const load = total > 0 ? (100 * (now.busy - this.#cpuTimes.busy)) / total : 0
    this.#cpuTimes = now
    this.#machine = {
      cpus: Math.max(1, now.count),
      load: Number.isFinite(load) ? Math.min(100, Math.max(0, load)) : 0,
      memTotalMiB: mem.total / MiB,
      memFreeMiB: mem.available / MiB,
    }
  }
}

/** Busy and total CPU time of the machine so far (ms, summed over cores). */
function cpuTimes(): { count: number; busy: number; total: number } {
  let busy = 0
  let total = 0
  const all = cpus()
  for (const { times: t } of all) {
    busy += t.user + t.nice + t.sys + t.irq
    total += t.user + t.nice + t.sys + t.irq + t.idle
  }
  return { count: all.length, busy, total }
}
