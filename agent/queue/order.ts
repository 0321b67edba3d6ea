import { MAX_PRIORITY } from './options.ts'

/** What the order needs of a job: its asked priority, when it was accepted, its arrival number. */
export interface Ordered {
  priority: number
  accepted: number
  seq: number
}

/** The aging rule (options.ts): the priority plus one level per `agingMs` waited, at most 2. */
export function effectivePriority(job: Ordered, now: number, agingMs: number): number {
  return Math.min(MAX_PRIORITY, job.priority + Math.floor(Math.max(0, now - job.accepted) / agingMs))
}

/** Whether `a` goes before `b`: the higher effective priority, then the earlier arrival. */
export function before(a: Ordered, b: Ordered, now: number, agingMs: number): boolean {
  const pa = effectivePriority(a, now, agingMs)
  const pb = effectivePriority(b, now, agingMs)
  return pa !== pb ? pa > pb : a.seq < b.seq
}

/**
 * The waiting jobs, one FIFO per asked priority. The next job is the head of one of the three
 * lists (within a list, arrival order is also age order, so the head has the highest effective
 * priority of its list): O(1) per pick, whatever the depth.
 */
export class JobOrder<T extends Ordered> {
  readonly #lists: T[][] = [[], [], []]
  readonly #agingMs: number

  constructor(agingMs: number) {
    this.#agingMs = agingMs
  }

  get size(): number {
    return this.#lists.reduce((n, l) => n + l.length, 0)
  }

  /** Waiting jobs per asked priority. */
  depths(): number[] {
    return this.#lists.map((l) => l.length)
  }

  /** Adds a job (a job put back after a refusal goes back to its place by arrival number). */
  push(job: T): void {
    const list = this.#lists[Math.max(0, Math.min(MAX_PRIORITY, job.priority))]!
    let i = list.length
    while (i > 0 && list[i - 1]!.seq > job.seq) i--
    list.splice(i, 0, job)
  }

  /** Takes the job that goes first now, or undefined when none waits. */
  shift(now = Date.now()): T | undefined {
    const head = this.peek(now)
    return head ? this.#lists[Math.max(0, Math.min(MAX_PRIORITY, head.priority))]!.shift() : undefined
  }

  /** The job that goes first now, left in place (undefined when none waits). */
  peek(now = Date.now()): T | undefined {
    let best: T | undefined
    for (const list of this.#lists) {
      const head = list[0]
      if (head && (!best || before(head, best, now, this.#agingMs))) best = head
    }
    return best
  }

  /** Per asked priority, the oldest waiting job's accept time (null when none of it waits). */
  oldestPer(): Array<number | null> {
    return this.#lists.map((l) => l[0]?.accepted ?? null)
  }

  /** The oldest waiting job's accept time (undefined when none waits). */
  oldest(): number | undefined {
    const heads = this.#lists.map((l) => l[0]?.accepted).filter((t): t is number => t !== undefined)
    return heads.length ? Math.min(...heads) : undefined
  }
}
