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
 * Every container this invoker owns, and those with a free slot indexed for reuse: warm containers
 * by function version (idle ones, and busy ones whose function allows more activations at once:
 * `limits.concurrency`), prewarmed containers by kind and memory.
 */
export class Pool {
  readonly all = new Set<FnContainer>()
  readonly #warm = new Map<string, FnContainer[]>()
  readonly #prewarm = new Map<string, FnContainer[]>()
  /** The containers in `#warm` or `#prewarm`. */
  readonly #listed = new Set<FnContainer>()
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
    c.inflight = 1
    // An idle container that dies (killed from outside, engine restart) leaves the pool at once.
    c.exited.addEventListener(
      'abort',
      () => {
        if (c.state === 'idle' || c.state === 'paused') this.#c.onExpire(c)
      },
      { once: true },
    )
  }

  /**
   * A slot in a warm container of `key`: the busiest one with a free slot, so that activations
   * gather in as few containers as their concurrency allows and the others stay idle (evictable);
   * among idle ones the most recently used.
   */
  takeWarm(key: string): FnContainer | undefined {
    const list = this.#warm.get(key)
    if (!list) return undefined
    let best = list[list.length - 1]
    for (const c of list) if (best && c.inflight > best.inflight) best = c
    if (best) this.#claim(best)
    return best
  }

  takePrewarm(key: string): FnContainer | undefined {
    const c = this.#prewarm.get(key)?.at(-1)
    if (c) this.#claim(c)
    return c
  }

  hasWarm(key: string): boolean {
    return (this.#warm.get(key)?.length ?? 0) > 0
  }

  hasPrewarm(key: string): boolean {
    return (this.#prewarm.get(key)?.length ?? 0) > 0
  }

  /** A busy container's `/init` succeeded: its free slots (concurrency above 1) may be taken now. */
  offer(c: FnContainer): void {
    if (c.state === 'busy' && !c.retiring && c.inflight < c.concurrency) this.#list(c)
  }

  /** Takes no new activation (one failed it); `release` says when the last one has ended. */
  retire(c: FnContainer): void {
    if (c.retiring) return
    c.retiring = true
    this.#unlist(c)
    this.#c.onChange()
  }

  /**
   * One activation in `c` ended. A healthy container is offered again: warm (it has a function) or
   * prewarmed; once idle, its pause and TTL timers are armed. True when `c` is retiring and now
   * runs nothing: the owner removes it.
   */
  release(c: FnContainer): boolean {
    if (c.state === 'gone') return false
    c.inflight = Math.max(0, c.inflight - 1)
    if (c.retiring) return c.inflight === 0
    c.lastUsed = performance.now()
    if (c.inflight > 0) {
      this.#list(c)
      this.#c.onChange()
      return false
    }
    c.state = 'idle'
    this.#list(c)
    if (c.key) {
      if (this.#init.pauseGraceMs > 0)
        c.idleTimers.push(unref(setTimeout(() => this.#pause(c), this.#init.pauseGraceMs)))
      c.idleTimers.push(unref(setTimeout(() => this.#c.onExpire(c), this.#init.idleTtlMs)))
    }
    this.#c.onChange()
    return false
  }

  /** Forgets a container (idle or busy); the caller removes it from Docker. */
  drop(c: FnContainer): void {
    if (!this.all.delete(c)) return
    const wasIdle = c.state === 'idle' || c.state === 'paused'
    for (const t of c.idleTimers) clearTimeout(t)
    c.idleTimers = []
    this.#unlist(c)
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

  /**
   * Warm containers per function version (busy or idle), the activation slots they hold (each
   * container its function's concurrency; not those retiring), and idle prewarmed containers per
   * kind@memory.
   */
  inventory(): {
    warm: Record<string, number>
    warmSlots: Record<string, number>
    prewarm: Record<string, number>
  } {
    const warm: Record<string, number> = {}
    const warmSlots: Record<string, number> = {}
    for (const c of this.all) {
      if (!c.key) continue
      warm[c.key] = (warm[c.key] ?? 0) + 1
      if (!c.retiring) warmSlots[c.key] = (warmSlots[c.key] ?? 0) + c.concurrency
    }
    const prewarm: Record<string, number> = {}
    for (const [k, list] of this.#prewarm) if (list.length > 0) prewarm[k] = list.length
    return { warm, warmSlots, prewarm }
  }

  /**
   * Free slots in busy containers (of `key`, or of every function): activations that would start
   * now without a container of their own.
   */
  spareSlots(key?: string): number {
    let n = 0
    const lists = key === undefined ? [...this.#warm.values()] : [this.#warm.get(key) ?? []]
    for (const list of lists) for (const c of list) if (c.inflight > 0) n += c.concurrency - c.inflight
    return n
  }

  #claim(c: FnContainer): void {
    for (const t of c.idleTimers) clearTimeout(t)
    c.idleTimers = []
    c.state = 'busy'
    c.inflight++
    c.lastUsed = performance.now()
    if (c.inflight >= c.concurrency) this.#unlist(c)
    this.#c.onChange()
  }

  #index(c: FnContainer): [Map<string, FnContainer[]>, string] {
    return c.key ? [this.#warm, c.key] : [this.#prewarm, prewarmKey(c.spec.kind, c.spec.memoryMiB)]
  }

  #list(c: FnContainer): void {
    if (this.#listed.has(c)) return
    this.#listed.add(c)
    const [index, key] = this.#index(c)
    push(index, key, c)
  }

  #unlist(c: FnContainer): void {
    if (!this.#listed.delete(c)) return
    const [index, key] = this.#index(c)
    remove(index, key, c)
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
