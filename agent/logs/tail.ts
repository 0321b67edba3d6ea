import type { ActivationRecord } from '../store/types.ts'
import type { TailAnswer, TailEntry } from './messages.ts'

/** What an entry costs in an answer, bytes (its lines plus a fixed allowance for the fields). */
function entryBytes(e: TailEntry): number {
  let n = 256
  for (const l of e.logs) n += l.length + 4
  return n
}

/** Keeps the last lines that fit `maxBytes`, and how many were dropped. */
function withinBytes(e: TailEntry, maxBytes: number): TailEntry {
  if (entryBytes(e) <= maxBytes) return e
  let n = 256
  let i = e.logs.length
  while (i > 0 && n + e.logs[i - 1]!.length + 4 <= maxBytes) n += e.logs[--i]!.length + 4
  return { ...e, logs: e.logs.slice(i), truncated: i }
}

/**
 * The last finished activations of this node that printed something, numbered in the order they
 * finished; a follower asks for the ones after the last it has, and waits for the next one.
 */
export class LogTail {
  readonly #max: number
  readonly #ring: TailEntry[] = []
  #next = 1
  readonly #waiters = new Set<() => void>()

  constructor(init: { bufferEntries: number }) {
    this.#max = init.bufferEntries
  }

  /** The last `seq` given (0: none yet; a follower with no position yet asks with -1). */
  get last(): number {
    return this.#next - 1
  }

  add(record: ActivationRecord): void {
    if (record.logs.length === 0) return
    this.#ring.push({
      seq: this.#next++,
      node: record.node,
      activationId: record.activationId,
      namespace: record.namespace,
      name: record.name,
      status: record.response.status,
      start: record.start,
      end: record.end,
      logs: record.logs,
    })
    if (this.#ring.length > this.#max) this.#ring.shift()
    for (const w of this.#waiters) w()
    this.#waiters.clear()
  }

  /** Entries after `after` (of `fn` if given), at most `maxBytes` of them (at least one). */
  read(after: number, fn: string | undefined, maxBytes: number): TailAnswer {
    if (after < 0) return { entries: [], next: this.last, missed: 0 }
    const first = this.#ring[0]?.seq ?? this.#next
    const missed = Math.max(0, first - after - 1)
    const entries: TailEntry[] = []
    let bytes = 0
    let next = Math.max(after, first - 1)
    for (const e of this.#ring) {
      if (e.seq <= after) continue
      if (fn === undefined || e.name === fn || `${e.namespace}/${e.name}` === fn) {
        const sized = withinBytes(e, maxBytes)
        const b = entryBytes(sized)
        if (entries.length > 0 && bytes + b > maxBytes) break
        entries.push(sized)
        bytes += b
      }
      next = e.seq
    }
    return { entries, next, missed }
  }

  /** Resolves when an entry after `after` exists, or after `ms`, or when `signal` aborts. */
  wait(after: number, ms: number, signal: AbortSignal): Promise<void> {
    if (this.last > after || ms <= 0 || signal.aborted) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        this.#waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      this.#waiters.add(done)
    })
  }
}
