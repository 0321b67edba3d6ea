export interface RateLimitInit {
  /** Tokens added per minute. */
  perMinute: number
  /** Bucket capacity. */
  burst: number
  /** Clock (tests). */
  now?: () => number
}

interface Bucket {
  tokens: number
  last: number
  /** Requests in the current minute window, for OpenWhisk's 429 message. */
  count: number
  windowStart: number
}

/**
 * One token bucket per API key (or per client address for web actions): a flood from one key
 * empties only its own bucket. Idle full buckets are dropped so the map stays small.
 */
export class RateLimiter {
  readonly #init: Required<RateLimitInit>
  readonly #buckets = new Map<string, Bucket>()
  #lastSweep = 0

  constructor(init: RateLimitInit) {
    this.#init = { now: Date.now, ...init }
  }

  /** Takes a token for `key`; null when allowed, else what OpenWhisk says about it. */
  take(key: string): { count: number; allowed: number } | null {
    const { perMinute, burst } = this.#init
    const now = this.#init.now()
    this.#sweep(now)
    let b = this.#buckets.get(key)
    if (!b) {
      b = { tokens: burst, last: now, count: 0, windowStart: now }
      this.#buckets.set(key, b)
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.last) * perMinute) / 60_000)
    b.last = now
    if (now - b.windowStart >= 60_000) {
      b.windowStart = now
      b.count = 0
    }
    b.count++
    if (b.tokens < 1) return { count: b.count, allowed: perMinute }
    b.tokens -= 1
    return null
  }

  get size(): number {
    return this.#buckets.size
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < 60_000) return
    this.#lastSweep = now
    const refill = (this.#init.burst * 60_000) / this.#init.perMinute
    for (const [k, b] of this.#buckets) if (now - b.last > refill) this.#buckets.delete(k)
  }
}
