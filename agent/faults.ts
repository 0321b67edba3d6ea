import { readFile } from 'node:fs/promises'
import type { Logger } from './log.ts'

export interface FaultsInit {
  enabled: boolean
  clockOffsetMs: number
  file?: string
}

const POLL_MS = 200

/**
 * Test-only fault injection (config `faults`, refused unless `faults.enabled`): this agent's wall
 * clock runs `clockOffsetMs` off, and the peers listed in `cut` are refused by the connection gater
 * and hung up on. Both can change at run time through `faults.file`. Nothing here is active in a
 * normal agent: `now` is `Date.now` and nothing is cut.
 */
export class Faults {
  readonly #init: FaultsInit
  readonly #logger: Logger
  #offset: number
  #cut = new Set<string>()
  #timer: NodeJS.Timeout | null = null
  #last = ''
  readonly #listeners = new Set<(cut: ReadonlySet<string>) => void>()

  constructor(components: { logger: Logger }, init: FaultsInit) {
    this.#init = init
    this.#logger = components.logger
    this.#offset = init.enabled ? init.clockOffsetMs : 0
  }

  /** The wall clock this agent reads (Date.now, plus the test offset). */
  readonly now = (): number => Date.now() + this.#offset

  isCut(peerId: string): boolean {
    return this.#cut.has(peerId)
  }

  /** Called with the cut set each time it changes. */
  onCut(listener: (cut: ReadonlySet<string>) => void): void {
    this.#listeners.add(listener)
  }

  async start(): Promise<void> {
    if (!this.#init.enabled) return
    this.#logger.warn({ ...this.#init }, 'fault injection is enabled (tests only)')
    if (!this.#init.file || this.#timer) return
    await this.#poll()
    this.#timer = setInterval(() => void this.#poll(), POLL_MS)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }

  async #poll(): Promise<void> {
    const text = await readFile(this.#init.file!, 'utf8').catch(() => '{}')
    if (text === this.#last) return
    this.#last = text
    let parsed: { clockOffsetMs?: unknown; cut?: unknown }
    try {
      parsed = JSON.parse(text || '{}')
    } catch {
      return // written half-way: read again next time
    }
    this.#offset = typeof parsed.clockOffsetMs === 'number' ? parsed.clockOffsetMs : this.#init.clockOffsetMs
    const cut = new Set(Array.isArray(parsed.cut) ? parsed.cut.filter((p) => typeof p === 'string') : [])
    this.#cut = cut
    this.#logger.warn({ clockOffsetMs: this.#offset, cut: [...cut] }, 'faults changed')
    for (const l of this.#listeners) l(cut)
  }
}
