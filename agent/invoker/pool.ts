import type { Logger } from '../log.ts'
import type { FnContainer } from './container.ts'
import { prewarmKey } from './keys.ts'

export interface PoolInit {
  idleTtlMs: number
  pauseGraceMs: number
}

export interface PoolComponents {
  logger: Logger
  /** Warm or prewarm inventory changed. */
  onChange: () => void
  /** An idle container outlived `idleTtlMs` or died: the owner drops and removes it. */
  onExpire: (c: FnContainer) => void
}

/**
 * Every container this invoker owns, and the idle ones indexed for reuse: warm containers by
 * function version (most recently used first), prewarmed containers by kind and memory.
 */
export class Pool {
  readonly all = new Set<FnContainer>()
  readonly #warm = new Map<string, FnContainer[]>()
  readonly #prewarm = new Map<string, FnContainer[]>()
  readonly #c: PoolComponents
  readonly #init: PoolInit

  constructor(components: PoolComponents, init: PoolInit) {
    this.#c = components
    this.#init = init
  }

  /** A new container, busy with its first activation (or about to become a prewarmed container). */
  add(c: FnContainer): void {
    this.all.add(c)
    c.state = 'busy'
    // An idle container that dies (killed from outside, engine restart) leaves the pool at once.
    c.exited.addEventListener(
      'abort',
      () => {
        if (c.state === 'idle' || c.state === 'paused') this.#c.onExpire(c)
      },
      { once: true },
    )
  }

  takeWarm(key: string): FnContainer | undefined {
    return this.#take(this.#warm, key)
  }

  takePrewarm(key: string): FnContainer | undefined {
    return this.#take(this.#prewarm, key)
  }

  hasWarm(key: string): boolean {
    return (this.#warm.get(key)?.length ?? 0) > 0
  }

  hasPrewarm(key: string): boolean {
    return (this.#prewarm.get(key)?.length ?? 0) > 0
  }

  /** Puts a healthy container back: warm (it has a function) or prewarmed container; arms pause and TTL timers. */
  putIdle(c: FnContainer): void {
    if (c.state === 'gone') return
    c.state = 'idle'
    c.lastUsed = performance.now()
    if (c.key) {
      push(this.#warm, c.key, c)
      if (this.#init.pauseGraceMs > 0)
        c.idleTimers.push(unref(setTimeout(() => this.#pause(c), this.#init.pauseGraceMs)))
      c.idleTimers.push(unref(setTimeout(() => this.#c.onExpire(c), this.#init.idleTtlMs)))
    } else {
      push(this.#prewarm, prewarmKey(c.spec.kind, c.spec.memoryMiB), c)
    }
    this.#c.onChange()
  }

  /** Forgets a container (idle or busy); the caller removes it from Docker. */
  drop(c: FnContainer): void {
    if (!this.all.delete(c)) return
    const wasIdle = c.state === 'idle' || c.state === 'paused'
    for (const t of c.idleTimers) clearTimeout(t)
    c.idleTimers = []
    if (c.key) remove(this.#warm, c.key, c)
    else remove(this.#prewarm, prewarmKey(c.spec.kind, c.spec.memoryMiB), c)
    c.state = 'gone'
    if (wasIdle || c.key) this.#c.onChange()
  }

  /** Idle containers (warm and prewarmed containers): the candidates for eviction. */
  idle(): FnContainer[] {
    return [...this.all].filter((c) => c.state === 'idle' || c.state === 'paused')
  }

  usedMiB(): number {
    let n = 0
    for (const c of this.all) n += c.spec.memoryMiB
    return n
  }

  busyMiB(): number {
    let n = 0
    for (const c of this.all) if (c.state === 'busy' || c.state === 'starting') n += c.spec.memoryMiB
    return n
  }

  /** Warm containers per function version (busy or idle), and idle prewarmed containers per kind@memory. */
  inventory(): { warm: Record<string, number>; prewarm: Record<string, number> } {
    const warm: Record<string, number> = {}
    for (const c of this.all) if (c.key) warm[c.key] = (warm[c.key] ?? 0) + 1
    const prewarm: Record<string, number> = {}
    for (const [k, list] of this.#prewarm) if (list.length > 0) prewarm[k] = list.length
    return { warm, prewarm }
  }

  #take(index: Map<string, FnContainer[]>, key: string): FnContainer | undefined {
    const c = index.get(key)?.pop()
    if (!c) return undefined
    for (const t of c.idleTimers) clearTimeout(t)
    c.idleTimers = []
    c.state = 'busy'
    c.lastUsed = performance.now()
    this.#c.onChange()
    return c
  }

  #pause(c: FnContainer): void {
    if (c.state !== 'idle') return
    c.state = 'paused'
    c.pausing = c.pause().then(
      () => true,
      (err: unknown) => {
        this.#c.logger.warn({ err, container: c.name }, 'pause failed')
        return false
      },
    )
  }
}

function push(index: Map<string, FnContainer[]>, key: string, c: FnContainer): void {
  const list = index.get(key)
  if (list) list.push(c)
  else index.set(key, [c])
}

function remove(index: Map<string, FnContainer[]>, key: string, c: FnContainer): void {
  const list = index.get(key)
  if (!list) return
  const i = list.indexOf(c)
  if (i >= 0) list.splice(i, 1)
  if (list.length === 0) index.delete(key)
}

function unref(t: NodeJS.Timeout): NodeJS.Timeout {
  t.unref()
  return t
}
