/**
 * Runs async work one at a time per key (work on different keys runs concurrently). A write that
 * reads the head before moving it must not interleave with another write of the same key: two
 * such writes both saw the old head and the later batch won, whichever version it held.
 */
export class KeyedSerial {
  readonly #tails = new Map<string, Promise<unknown>>()

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key)
    const next = prev ? prev.then(work, work) : work()
    const tail = next.catch(() => {})
    this.#tails.set(key, tail)
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    })
    return next
  }
}
