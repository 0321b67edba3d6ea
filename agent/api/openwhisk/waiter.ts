import type { ActivationRecord, Db, Store } from '../../store/index.ts'
import { BUCKETS } from '../../store/index.ts'

type Ops = Array<{ type: string; key: unknown }>

/**
 * Wakes blocking callers the moment an activation record is written: it listens to the
 * database's `write` events for keys of the activations bucket, instead of polling. A slow poll
 * stays as a safety net.
 */
export class RecordWaiter {
  readonly #db: Db
  readonly #records: Pick<Store['activations'], 'get'>
  readonly #waiting = new Map<string, Set<() => void>>()
  readonly #prefix = `!${BUCKETS.activations}!`
  readonly #onWrite = (ops: Ops) => {
    if (this.#waiting.size === 0) return
    for (const op of ops) {
      if (op.type !== 'put' || typeof op.key !== 'string' || !op.key.startsWith(this.#prefix)) continue
      const wakers = this.#waiting.get(op.key.slice(this.#prefix.length))
      if (wakers) for (const wake of wakers) wake()
    }
  }
  #attached = false

  constructor(db: Db, records: Pick<Store['activations'], 'get'>) {
    this.#db = db
    this.#records = records
  }

  start(): void {
    if (this.#attached) return
    this.#attached = true
    this.#db.on('write', this.#onWrite as never)
  }

  stop(): void {
    if (!this.#attached) return
    this.#attached = false
    this.#db.off('write', this.#onWrite as never)
  }

  /** The record of `id` once written, or null after `waitMs`. */
  async wait(id: string, waitMs: number, pollMs = 250): Promise<ActivationRecord | null> {
    const end = Date.now() + waitMs
    for (;;) {
      let wake!: () => void
      const woken = new Promise<void>((r) => {
        wake = r
      })
      const set = this.#waiting.get(id) ?? new Set()
      set.add(wake)
      this.#waiting.set(id, set)
      try {
        const rec = await this.#records.get(id)
        // A `running` marker is stored before the run starts: not the result yet.
        if (rec && rec.phase !== 'running') return rec
        const left = end - Date.now()
        if (left <= 0) return null
        let timer: NodeJS.Timeout | undefined
        await Promise.race([woken, new Promise((r) => (timer = setTimeout(r, Math.min(pollMs, left))))])
        clearTimeout(timer)
      } finally {
        set.delete(wake)
        if (set.size === 0) this.#waiting.delete(id)
      }
    }
  }
}
