import { errors } from '../errors.ts'
import type { NamespaceLimits } from '../store/index.ts'

/** OpenWhisk's throttling messages (apache/openwhisk `http/Messages.scala`). */
export const THROTTLE_MESSAGES = {
  concurrent: (count: number, allowed: number) =>
    `Too many concurrent requests in flight (count: ${count}, allowed: ${allowed}).`,
  perMinute: (count: number, allowed: number) =>
    `Too many requests in the last minute (count: ${count}, allowed: ${allowed}).`,
} as const

export interface NamespaceLimiterComponents {
  /** The namespace's limits (replicated with it), or null: none. */
  limits: (namespace: string) => Promise<NamespaceLimits | null>
  /** The per-namespace load the other live members last gossiped (`ns`, `ns/min`). */
  peers: () => Array<Record<string, number> | undefined>
  /** The local load changed: gossip it soon. */
  changed?: () => void
  now?: () => number
}

/**
 * Per-namespace limits on activations received here, checked against the whole cluster: this
 * node's own counts, exact, plus what every other live member last gossiped. A peer's count is at
 * most one heartbeat old (a change is gossiped at once), so the cluster may admit, beyond a limit,
 * what the other nodes admitted within one heartbeat period (docs/api.md, Limits).
 */
export class NamespaceLimiter {
  readonly #c: NamespaceLimiterComponents
  readonly #inflight = new Map<string, number>()
  #minute = -1
  readonly #admitted = new Map<string, number>()

  constructor(components: NamespaceLimiterComponents) {
    this.#c = components
  }

  #now(): number {
    return (this.#c.now ?? Date.now)()
  }

  #roll(): void {
    const minute = Math.floor(this.#now() / 60_000)
    if (minute !== this.#minute) {
      this.#minute = minute
      this.#admitted.clear()
    }
  }

  /** What this node gossips: `ns` → in flight here, `ns/min` → admitted here this minute. */
  load(): Record<string, number> {
    this.#roll()
    const out: Record<string, number> = {}
    for (const [ns, n] of this.#inflight) out[ns] = n
    for (const [ns, n] of this.#admitted) out[`${ns}/min`] = n
    return out
  }

  #cluster(key: string, local: number): number {
    let n = local
    for (const load of this.#c.peers()) n += load?.[key] ?? 0
    return n
  }

  /**
   * Admits one activation of `namespace` or throws TOO_MANY_REQUESTS (429, OpenWhisk's message);
   * the returned function releases its in-flight slot when it ends.
   */
  async admit(namespace: string): Promise<() => void> {
    const limits = await this.#c.limits(namespace)
    this.#roll()
    if (limits?.concurrent !== undefined) {
      const count = this.#cluster(namespace, this.#inflight.get(namespace) ?? 0)
      if (count >= limits.concurrent)
        throw errors.tooManyRequests(THROTTLE_MESSAGES.concurrent(count + 1, limits.concurrent))
    }
    if (limits?.perMinute !== undefined) {
      const count = this.#cluster(`${namespace}/min`, this.#admitted.get(namespace) ?? 0)
      if (count >= limits.perMinute)
        throw errors.tooManyRequests(THROTTLE_MESSAGES.perMinute(count + 1, limits.perMinute))
    }
    this.#inflight.set(namespace, (this.#inflight.get(namespace) ?? 0) + 1)
    this.#admitted.set(namespace, (this.#admitted.get(namespace) ?? 0) + 1)
    this.#c.changed?.()
    let released = false
    return () => {
      if (released) return
      released = true
      const n = (this.#inflight.get(namespace) ?? 1) - 1
      if (n > 0) this.#inflight.set(namespace, n)
      else this.#inflight.delete(namespace)
      this.#c.changed?.()
    }
  }
}
