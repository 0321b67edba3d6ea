import type { Logger } from '../log.ts'

/**
 * The anti-entropy loop: runs `round` every `periodMs`, at once when kicked (a membership change),
 * and again soon after a round that left work for later (a catch-up spans several bounded rounds).
 */
export class AntiEntropyLoop {
  readonly #round: (signal: AbortSignal) => Promise<boolean>
  readonly #periodMs: number
  readonly #logger: Logger
  #controller: AbortController | null = null
  #timer: NodeJS.Timeout | null = null
  #running: Promise<void> | null = null
  #kicked = false

  constructor(round: (signal: AbortSignal) => Promise<boolean>, periodMs: number, logger: Logger) {
    this.#round = round
    this.#periodMs = periodMs
    this.#logger = logger
  }

  start(): void {
    if (this.#controller) return
    this.#controller = new AbortController()
    this.#schedule(Math.random() * this.#periodMs)
  }

  async stop(): Promise<void> {
    this.#controller?.abort()
    this.#controller = null
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    await this.#running
  }

  /** Run a round soon (now, or right after the one in progress). */
  kick(): void {
    if (!this.#controller) return
    if (this.#running) {
      this.#kicked = true
      return
    }
    this.#schedule(0)
  }

  #schedule(ms: number): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#running = this.#run().finally(() => {
        this.#running = null
      })
    }, ms)
    this.#timer.unref?.()
  }

  async #run(): Promise<void> {
    const controller = this.#controller
    if (!controller) return
    this.#kicked = false
    let more = false
    try {
      more = await this.#round(controller.signal)
    } catch (err) {
      if (!controller.signal.aborted) this.#logger.warn({ err }, 'anti-entropy round failed')
    }
    if (controller.signal.aborted) return
    this.#schedule(more || this.#kicked ? 10 : this.#periodMs * (0.75 + Math.random() / 2))
  }
}
