import type { FnContainer } from './container.ts'

/** A container of one function version being started, and the slots of it promised so far. */
export interface Start {
  readonly concurrency: number
  /** Activations that will run in it once its `/init` succeeded (the one starting it included). */
  promised: number
  /** The container once its `/init` succeeded; null when the start failed (the waiters try again). */
  readonly ready: Promise<FnContainer | null>
  /** Resolves `ready` (once) and forgets the start. */
  settle(c: FnContainer | null): void
}

/**
 * Containers being started for functions that run several activations at once
 * (`limits.concurrency` above 1): an activation that finds no free slot in a warm container waits
 * for a slot of one being started rather than start another, so a burst of N activations of a
 * cold function starts ceil(N / concurrency) containers, not N. Waiting costs it no more than its
 * own cold start would: that container's start is already under way.
 */
export class Starting {
  readonly #byKey = new Map<string, Start[]>()

  /** Records a start for `key` with the starting activation's slot promised. */
  begin(key: string, concurrency: number): Start {
    let resolve!: (c: FnContainer | null) => void
    const ready = new Promise<FnContainer | null>((r) => {
      resolve = r
    })
    let settled = false
    const start: Start = {
      concurrency,
      promised: 1,
      ready,
      settle: (c) => {
        if (settled) return
        settled = true
        const list = this.#byKey.get(key)
        const i = list?.indexOf(start) ?? -1
        if (list && i >= 0) list.splice(i, 1)
        if (list?.length === 0) this.#byKey.delete(key)
        resolve(c)
      },
    }
    const list = this.#byKey.get(key)
    if (list) list.push(start)
    else this.#byKey.set(key, [start])
    return start
  }

  /** A start of `key` with a slot not yet promised, now promised to the caller; undefined if none. */
  join(key: string): Start | undefined {
    const start = this.#byKey.get(key)?.find((s) => s.promised < s.concurrency)
    if (start) start.promised++
    return start
  }
}
