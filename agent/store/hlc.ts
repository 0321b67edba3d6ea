/**
 * Hybrid logical clock (Kulkarni et al.). A timestamp is a string that sorts lexicographically
 * in time order: 15 digits of wall-clock milliseconds, a dot, 6 digits of logical counter.
 * Last-writer-wins compares timestamps, then the origin peer id to break ties.
 *
 * The counter is bounded: the millionth event within one logical millisecond carries into the
 * wall part (wall + 1, counter 0), so timestamps stay valid and ordered; the clock then runs up to
 * that many events per millisecond ahead of the physical clock, and catches up as it advances.
 */
export type Hlc = string

const WALL_DIGITS = 15
const COUNTER_DIGITS = 6
const HLC_RE = /^\d{15}\.\d{6}$/
/** The largest counter a timestamp holds (6 digits). */
export const MAX_COUNTER = 10 ** COUNTER_DIGITS - 1

export function formatHlc(wall: number, counter: number): Hlc {
  return `${String(wall).padStart(WALL_DIGITS, '0')}.${String(counter).padStart(COUNTER_DIGITS, '0')}`
}

export function parseHlc(hlc: Hlc): { wall: number; counter: number } {
  if (!HLC_RE.test(hlc)) throw new Error(`invalid HLC timestamp: ${hlc}`)
  const [wall, counter] = hlc.split('.')
  return { wall: Number(wall), counter: Number(counter) }
}

export function isHlc(value: unknown): value is Hlc {
  return typeof value === 'string' && HLC_RE.test(value)
}

/** Wall-clock milliseconds of a timestamp. */
export function hlcWall(hlc: Hlc): number {
  return parseHlc(hlc).wall
}

/** How far a peer's timestamp may run ahead of the local physical clock, ms (config `clock.maxDriftMs`). */
export const DEFAULT_MAX_DRIFT_MS = 60_000

export class HybridClock {
  #wall = 0
  #counter = 0
  readonly #now: () => number
  /** Remote timestamps further ahead than this are not adopted (a peer with a broken clock). */
  readonly #maxDriftMs: number

  constructor(init: { now?: () => number; maxDriftMs?: number } = {}) {
    this.#now = init.now ?? Date.now
    this.#maxDriftMs = init.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS
  }

  get maxDriftMs(): number {
    return this.#maxDriftMs
  }

  /**
   * Whether a timestamp lies more than maxDrift past this node's physical clock: a record stamped
   * so is refused at the wire (and offered again by anti-entropy, accepted once it is no longer
   * that far ahead), so a peer whose clock runs fast cannot win every conflict while it does.
   */
  tooFarAhead(hlc: Hlc): boolean {
    return parseHlc(hlc).wall - this.#now() > this.#maxDriftMs
  }

  #carry(): void {
    if (this.#counter > MAX_COUNTER) {
      this.#wall++
      this.#counter = 0
    }
  }

  /** A timestamp for a local event. */
  now(): Hlc {
    const pt = this.#now()
    if (pt > this.#wall) {
      this.#wall = pt
      this.#counter = 0
    } else {
      this.#counter++
      this.#carry()
    }
    return formatHlc(this.#wall, this.#counter)
  }

  /** Merges a timestamp received from a peer; returns the timestamp of the receive event. */
  update(remote: Hlc): Hlc {
    const { wall: rw, counter: rc } = parseHlc(remote)
    const pt = this.#now()
    if (rw - pt > this.#maxDriftMs) return this.now()
    const wall = Math.max(this.#wall, rw, pt)
    if (wall === this.#wall && wall === rw) this.#counter = Math.max(this.#counter, rc) + 1
    else if (wall === this.#wall) this.#counter++
    else if (wall === rw) this.#counter = rc + 1
    else this.#counter = 0
    this.#wall = wall
    this.#carry()
    return formatHlc(this.#wall, this.#counter)
  }
}

/** Last-writer-wins order: positive when `a` wins over `b`. */
export function compareVersions(a: { hlc: Hlc; origin: string }, b: { hlc: Hlc; origin: string }): number {
  if (a.hlc !== b.hlc) return a.hlc > b.hlc ? 1 : -1
  if (a.origin !== b.origin) return a.origin > b.origin ? 1 : -1
  return 0
}
