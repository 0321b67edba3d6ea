import type { Logger } from '../log.ts'
import type { FnContainer } from './container.ts'
import type { ImageCache } from './images.ts'
import { prewarmKey } from './keys.ts'
import { type ContainerSpec, RUNTIME_USER } from './limits.ts'
import type { InvokerOptions } from './options.ts'

export interface PrewarmerComponents {
  logger: Logger
  images: ImageCache
  imageFor: (kind: string) => string
  /** Takes budget without evicting anything; throws when it does not fit. */
  reserve: (mib: number) => void
  unreserve: (mib: number) => void
  create: (spec: ContainerSpec) => Promise<FnContainer>
  /** Removes a prewarmed container that never became ready. */
  discard: (c: FnContainer) => void
  /** Aborted when the invoker stops. */
  signal: () => AbortSignal
  readyTimeoutMs: number
  /** Hands a started prewarmed container to the pool (and moves its reservation there). */
  adopt: (c: FnContainer) => void
  idleCount: (key: string) => number
  running: () => boolean
}

/**
 * Keeps `count` prewarmed containers per (kind, memory): runtime containers started ahead of need, so the
 * first activation of a new function only pays `/init`. Refilled in the background when taken; a
 * prewarmed container never evicts anything (it only uses free budget).
 */
export class Prewarmer {
  readonly #c: PrewarmerComponents
  readonly #specs: InvokerOptions['prewarm']
  readonly #starting = new Map<string, number>()
  readonly #pending = new Set<Promise<void>>()
  readonly #warned = new Set<string>()

  constructor(components: PrewarmerComponents, specs: InvokerOptions['prewarm']) {
    this.#c = components
    this.#specs = specs
  }

  /** Starts whatever prewarmed containers are missing and waits for them. */
  async fill(): Promise<void> {
    const jobs: Promise<void>[] = []
    for (const spec of this.#specs) {
      const key = prewarmKey(spec.kind, spec.memory)
      const missing = spec.count - this.#c.idleCount(key) - (this.#starting.get(key) ?? 0)
      for (let i = 0; i < missing; i++) jobs.push(this.#track(this.#one(spec.kind, spec.memory, key)))
    }
    await Promise.all(jobs)
  }

  /** Background refill after a prewarmed container was taken. */
  refill(): void {
    this.fill().catch((err: unknown) => this.#c.logger.warn({ err }, 'prewarm refill failed'))
  }

  /** Waits for prewarmed containers being started (stop() calls it after aborting). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#pending])
  }

  #track(p: Promise<void>): Promise<void> {
    const tracked = p.finally(() => this.#pending.delete(tracked))
    this.#pending.add(tracked)
    return tracked
  }

  async #one(kind: string, memoryMiB: number, key: string): Promise<void> {
    if (!this.#c.running()) return
    try {
      this.#c.reserve(memoryMiB)
    } catch {
      this.#c.logger.debug({ key }, 'no free budget for a prewarmed container')
      return
    }
    this.#starting.set(key, (this.#starting.get(key) ?? 0) + 1)
    const image = this.#c.imageFor(kind)
    try {
      if (!(await this.#c.images.has(image))) {
        if (!this.#warned.has(image)) {
          this.#warned.add(image)
          this.#c.logger.warn({ image, kind }, 'runtime image missing: no prewarmed containers for this kind')
        }
        this.#c.unreserve(memoryMiB)
        return
      }
      const c = await this.#c.create({
        image,
        kind,
        memoryMiB,
        blackbox: false,
        user: RUNTIME_USER,
        role: 'prewarm',
      })
      try {
        await c.waitReady(AbortSignal.any([this.#c.signal(), AbortSignal.timeout(this.#c.readyTimeoutMs)]))
      } catch (err) {
        this.#c.discard(c)
        throw err
      }
      this.#c.adopt(c)
    } catch (err) {
      this.#c.unreserve(memoryMiB)
      if (this.#c.running()) this.#c.logger.warn({ err, key }, 'could not start a prewarmed container')
    } finally {
      this.#starting.set(key, (this.#starting.get(key) ?? 1) - 1)
    }
  }
}
