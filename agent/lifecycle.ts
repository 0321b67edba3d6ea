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
 * does not keep the others from stopping. Neither does a stop that hangs (a wedged engine call,
 * a leaked in-flight count): each service has `stopTimeoutMs`, past which it is logged as an error
 * and the next one stops, so a SIGTERM always ends the process.
 */
export class Lifecycle implements Startable {
  readonly #logger: Logger
  readonly #defaultStopTimeoutMs: number
  readonly #services: Entry[] = []
  #started: Entry[] = []
  #state: ServiceState = 'new'
  #startedAt = 0

  constructor(logger: Logger, opts: { stopTimeoutMs?: number } = {}) {
    this.#logger = logger
    this.#defaultStopTimeoutMs = opts.stopTimeoutMs ?? 30_000
  }

  get state(): ServiceState {
    return this.#state
  }

  /** When the last service finished starting (epoch ms; 0 before). */
  get startedAt(): number {
    return this.#startedAt
  }

  /**
   * Adds a service after the ones already added: it starts after them and stops before them.
   * `stopTimeoutMs` bounds its stop (default: the lifecycle's); a drain needs its drain time plus.
   */
  add<S extends Startable>(name: string, service: S, opts: { stopTimeoutMs?: number } = {}): S {
    this.#services.push({ name, service, stopTimeoutMs: opts.stopTimeoutMs ?? this.#defaultStopTimeoutMs })
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
      let timer: NodeJS.Timeout | undefined
      const overdue = new Promise<'overdue'>((resolve) => {
        timer = setTimeout(() => resolve('overdue'), s.stopTimeoutMs)
      })
      try {
        const outcome = await Promise.race([s.service.stop(), overdue])
        if (outcome === 'overdue') {
          this.#logger.error(
            { service: s.name, stopTimeoutMs: s.stopTimeoutMs },
            'stop did not finish in time: going on with the next service',
          )
        }
      } catch (err) {
        this.#logger.error({ err, service: s.name }, 'stop failed')
      } finally {
        clearTimeout(timer)
      }
    }
  }
}

interface Entry {
  name: string
  service: Startable
  stopTimeoutMs: number
}
