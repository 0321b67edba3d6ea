/** A binary min-heap of timed events for the placement simulator. */
export class EventHeap<T extends { at: number }> {
  #a: T[] = []

  get size(): number {
    return this.#a.length
  }

  push(x: T): void {
    const a = this.#a
    a.push(x)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (a[p]!.at <= a[i]!.at) break
      ;[a[p], a[i]] = [a[i]!, a[p]!]
      i = p
    }
  }

  pop(): T | undefined {
    const a = this.#a
    if (a.length === 0) return undefined
    const top = a[0]!
    const last = a.pop()!
    if (a.length > 0) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && a[l]!.at < a[m]!.at) m = l
        if (r < a.length && a[r]!.at < a[m]!.at) m = r
        if (m === i) break
        ;[a[m], a[i]] = [a[i]!, a[m]!]
        i = m
      }
    }
    return top
  }
}

/** Deterministic PRNG (mulberry32) so every policy sees the same trace. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
