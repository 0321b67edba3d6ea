import type { Logger } from './log.ts'

/**
 * The states of every long-lived service (libp2p's `Startable` is the model): `new` until the
 * first start, `running` between a finished start and a stop, `stopped` after.
 */
export type ServiceState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped'

/** A long-lived service: `start()` then `stop()`, each safe to call twice. */
export interface Startable {
  start(): Promise<void>
  stop(): Promise<void>
}

/**
 * The services of one agent, in the order they were built (their dependency order): `start`
 * starts them in that order, `stop` stops them in reverse. A failed start stops the ones already
 * started (a service whose own start failed cleans up after itself); a failed stop is logged and
 * does not keep the others from stopping.
 */
export class Lifecycle implements Startable {
  readonly #logger: Logger
  readonly #services: Array<{ name: string; service: Startable }> = []
  #started: Array<{ name: string; service: Startable }> = []
  #state: ServiceState = 'new'
  #startedAt = 0

  constructor(logger: Logger) {
    this.#logger = logger
  }

  get state(): ServiceState {
    return this.#state
  }

  /** When the last service finished starting (epoch ms; 0 before). */
  get startedAt(): number {
    return this.#startedAt
  }

  /** Adds a service after the ones already added: it starts after them and stops before them. */
  add<S extends Startable>(name: string, service: S): S {
    this.#services.push({ name, service })
    return service
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') return
    this.#state = 'starting'
    try {
      for (const s of this.#services) {
        await s.service.start()
        this.#started.push(s)
      }
    } catch (err) {
      await this.#stopStarted()
      this.#state = 'stopped'
      throw err
    }
    this.#state = 'running'
    this.#startedAt = Date.now()
  }

  async stop(): Promise<void> {
    if (this.#state !== 'running') return
    this.#state = 'stopping'
    await this.#stopStarted()
    this.#state = 'stopped'
  }

  async #stopStarted(): Promise<void> {
    const started = this.#started.reverse()
    this.#started = []
    for (const s of started) {
      try {
        await s.service.stop()
      } catch (err) {
        this.#logger.error({ err, service: s.name }, 'stop failed')
      }
    }
  }
}
