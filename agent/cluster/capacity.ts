import si from 'systeminformation'
import type { Logger } from '../log.ts'
import { quantizeCapacity } from './delta.ts'
import type { Capacity } from './messages.ts'

export type LocalCapacity = Pick<Capacity, 'budgetMiB' | 'budgetFreeMiB' | 'freeSlots' | 'inflight'>
type Machine = Pick<Capacity, 'cpus' | 'load' | 'memTotalMiB' | 'memFreeMiB'>

const MiB = 1024 * 1024

/**
 * The machine's CPU count, CPU load (percent busy since the previous sample) and memory, from
 * `systeminformation`, sampled at most every `sampleMs` (a heartbeat reads the cached sample).
 */
export class CapacitySampler {
  readonly #logger: Logger
  readonly #sampleMs: number
  #machine: Machine = { cpus: 1, load: 0, memTotalMiB: 0, memFreeMiB: 0 }
  #sampledAt = 0
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
    const [load, mem] = await Promise.all([si.currentLoad(), si.mem()])
    this.#machine = {
      cpus: Math.max(1, load.cpus.length),
      load: Number.isFinite(load.currentLoad) ? load.currentLoad : 0,
      memTotalMiB: mem.total / MiB,
      memFreeMiB: mem.available / MiB,
    }
  }
}
