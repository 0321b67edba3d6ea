export const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX'
/**
 * A line that starts `\x1e<activation id>\x1f` belongs to that activation: how the nodejs runtime
 * marks the output of concurrent activations (runtimes/nodejs/concurrent.js).
 */
const TAG_START = 0x1e
const TAG_END = '\u001f'
/** Longest tag looked for (an activation id is 32 characters). */
const MAX_TAG = 128

type Stream = 'stdout' | 'stderr'

/** Start-up output kept for the first activation (a chatty server cannot grow memory without bound). */
const MAX_EARLY_LINES = 1000
/** Longest partial line kept before an activation sets its log limit, bytes (OpenWhisk's 10 MB). */
const DEFAULT_LINE_CAP = 10 * 1024 * 1024
/** What is kept of an overlong line: enough to see whether it ends with the sentinel. */
const TAIL = SENTINEL.length + 1
const NEWLINE = 0x0a
const NOTHING = Buffer.alloc(0)

/**
 * The unterminated end of one stream's output, as the raw bytes it arrived in: kept as pieces
 * (decoded once, when its newline arrives) and capped: past `cap` bytes only its tail is kept, and
 * the line counts as overlong. Bytes, not strings: a flood of output is never decoded, and the
 * pieces live outside the JavaScript heap, so the collector does not copy them around (a 10 MiB
 * line held as strings cost collection pauses of 30-60 ms while a function flooded its output).
 */
class PartialLine {
  #pieces: Buffer[] = []
  #length = 0
  #tail: Buffer = NOTHING
  overlong = false

  get empty(): boolean {
    return this.#length === 0 && !this.overlong
  }

  append(piece: Buffer, cap: number): void {
    if (piece.length === 0) return
    if (this.overlong) {
      this.#tail = lastBytes([this.#tail, piece], TAIL)
      return
    }
    this.#pieces.push(piece)
    this.#length += piece.length
    if (this.#length > cap) {
      this.#tail = lastBytes(this.#pieces, TAIL)
      this.#pieces = []
      this.#length = 0
      this.overlong = true
    }
  }

  /** The line (for an overlong one: its tail) and whether it was overlong; resets. */
  take(): { text: string; overlong: boolean } {
    const bytes = this.overlong
      ? this.#tail
      : this.#pieces.length === 1
        ? this.#pieces[0]!
        : Buffer.concat(this.#pieces, this.#length)
    const out = { text: bytes.toString('utf8'), overlong: this.overlong }
    this.#pieces = []
    this.#length = 0
    this.#tail = NOTHING
    this.overlong = false
    return out
  }
}

/** The last `n` bytes of the pieces taken in order, copied (so no large chunk is kept alive). */
function lastBytes(pieces: Buffer[], n: number): Buffer {
  const out: Buffer[] = []
  let have = 0
  for (let i = pieces.length - 1; i >= 0 && have < n; i--) {
    const p = pieces[i]!
    const take = Math.min(p.length, n - have)
    out.unshift(p.subarray(p.length - take))
    have += take
  }
  return Buffer.concat(out, have)
}

interface Collection {
  lines: string[]
  bytes: number
  limit: number
  truncated: boolean
  seen: { stdout: boolean; stderr: boolean }
}

export interface FinishOptions {
  /** Wait for both sentinels at most this long. */
  waitMs: number
  /** When > 0, output quiet this long also ends the wait (blackbox images that print no sentinels). */
  quietMs: number
}

/** The activation id and the rest of a tagged line, or null when the line has no tag. */
function untag(line: string): { id: string; text: string } | null {
  if (line.charCodeAt(0) !== TAG_START) return null
  const end = line.indexOf(TAG_END, 1)
  if (end < 0 || end > MAX_TAG) return null
  return { id: line.slice(1, end), text: line.slice(end + 1) }
}

/**
 * Splits one container's stdout/stderr into lines and attributes them to the activation in progress,
 * until both sentinels have been seen. Output before the first activation (server start-up) goes to
 * the first one; output after an activation's sentinels and before the next one begins is dropped,
 * so nothing is ever attributed to the wrong activation.
 *
 * Concurrent activations (`begin` with an id) are told apart by the tag on each line: a tagged line
 * goes to its activation, a tagged sentinel ends that activation's logs. Untagged lines go to the
 * oldest open activation until the first tagged line shows the runtime tags (start-up and `/init`
 * output: no second activation joins a container before its `/init` succeeded); after that, an
 * untagged line belongs to no activation and is dropped, as is a tagged line whose activation
 * ended (a timed-out activation that still prints).
 */
export class LogCapture {
  #partial = { stdout: new PartialLine(), stderr: new PartialLine() }
  #early: string[] = []
  #earlyChars = 0
  #begun = false
  #current: Collection | null = null
  /** Concurrent activations' collections by activation id, oldest first. */
  readonly #byId = new Map<string, Collection>()
  /** A tagged line was seen: the runtime runs activations concurrently. */
  #tagged = false
  #ended = false
  #lastData = 0
  readonly #wakers = new Set<() => void>()

  /** True once the container's output streams closed (the container exited). */
  get ended(): boolean {
    return this.#ended
  }

  /**
   * Takes a chunk of output: linear in its size (only the new bytes are searched for newlines), and
   * memory bounded by the log limit (a partial line longer than it keeps only its tail). A newline
   * byte never occurs inside a multi-byte UTF-8 character, so lines are split before decoding.
   */
  feed(stream: Stream, chunk: Buffer): void {
    this.#lastData = performance.now()
    const partial = this.#partial[stream]
    let from = 0
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, from)) {
      partial.append(chunk.subarray(from, nl), this.#cap)
      this.#complete(stream, partial.take())
      from = nl + 1
    }
    partial.append(chunk.subarray(from), this.#cap)
    for (const wake of this.#wakers) wake()
  }

  /**
   * The longest line worth keeping: what is left of the current activation's log limit (a longer
   * line truncates the logs anyway, so only its tail is kept, to see whether it ends with the
   * sentinel); plus room for the sentinel itself, which may end a line that fits.
   */
  get #cap(): number {
    const c = this.#current
    // Concurrent activations: a line's owner is known only from its start, so keep it whole (the
    // runtime sends no line longer than the largest log limit).
    if (!c) return DEFAULT_LINE_CAP + MAX_TAG
    return c.truncated ? 0 : c.limit - c.bytes + TAIL
  }

  #complete(stream: Stream, line: { text: string; overlong: boolean }): void {
    if (!line.overlong) {
      this.#line(stream, line.text)
      return
    }
    // Too long to keep: it truncates the logs; its end may still be the sentinel.
    const text = line.text.endsWith('\r') ? line.text.slice(0, -1) : line.text
    const c = this.#current
    if (c && this.#collecting(c, stream)) this.#truncate(c)
    if (text.endsWith(SENTINEL) && c) c.seen[stream] = true
  }

  #collection(id: string | undefined): Collection | null {
    return id === undefined ? this.#current : (this.#byId.get(id) ?? null)
  }

  /** The streams closed: flush partial lines, release any waiter. */
  end(): void {
    if (this.#ended) return
    for (const s of ['stdout', 'stderr'] as const) {
      const partial = this.#partial[s]
      if (!partial.empty) this.#complete(s, partial.take())
    }
    this.#ended = true
    for (const wake of this.#wakers) wake()
  }

  /**
   * Starts collecting for a new activation with its log limit (bytes): the one in progress, or with
   * `activationId`, one of several running at once in the container (their lines are tagged).
   */
  begin(limitBytes: number, activationId?: string): void {
    const lines = this.#begun ? [] : this.#early
    this.#begun = true
    this.#early = []
    this.#earlyChars = 0
    const c: Collection = {
      lines: [],
      bytes: 0,
      limit: limitBytes,
      truncated: false,
      seen: { stdout: false, stderr: false },
    }
    if (activationId === undefined) this.#current = c
    else this.#byId.set(activationId, c)
    for (const l of lines) this.#add(c, l)
  }

  /** Both sentinels of the activation in progress (or of `activationId`) have been seen. */
  complete(activationId?: string): boolean {
    const c = this.#collection(activationId)
    return c?.seen.stdout === true && c.seen.stderr
  }

  /**
   * Waits (bounded) for the sentinels, then closes the activation's collection.
   * `complete` tells whether both sentinels arrived (if not, the container's streams cannot be trusted
   * to line up with the next activation).
   */
  async finish(opts: FinishOptions, activationId?: string): Promise<{ logs: string[]; complete: boolean }> {
    const c = this.#collection(activationId)
    if (!c) return { logs: [], complete: true }
    const done = () => c.seen.stdout && c.seen.stderr
    const started = performance.now()
    while (!done() && !this.#ended) {
      const now = performance.now()
      const left = opts.waitMs - (now - started)
      if (left <= 0) break
      if (opts.quietMs > 0 && now - Math.max(this.#lastData, started) >= opts.quietMs) break
      const step = opts.quietMs > 0 ? Math.min(left, opts.quietMs) : left
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, step)
        const wakers = this.#wakers
        function wake() {
          clearTimeout(timer)
          wakers.delete(wake)
          resolve()
        }
        wakers.add(wake)
      })
    }
    const complete = done()
    if (!complete && activationId === undefined) {
      // No sentinels (blackbox, or a process that died): take unterminated lines too.
      for (const s of ['stdout', 'stderr'] as const) {
        const partial = this.#partial[s]
        if (partial.empty) continue
        const line = partial.take()
        if (line.overlong) this.#truncate(c)
        else this.#add(c, this.#format(s, line.text))
      }
    }
    if (activationId === undefined) this.#current = null
    else this.#byId.delete(activationId)
    return { logs: c.lines, complete }
  }

  /** The collection a line belongs to (see the class comment), and the line without its tag. */
  #owner(line: string): { c: Collection | null; line: string } {
    const tag = untag(line)
    if (tag) {
      this.#tagged = true
      // A runtime that tags although this container runs one activation at a time: it is that one.
      const c = this.#byId.get(tag.id) ?? (this.#byId.size === 0 ? this.#current : null)
      return { c, line: tag.text }
    }
    if (this.#current || this.#tagged) return { c: this.#current, line }
    return { c: this.#byId.values().next().value ?? null, line }
  }

  #line(stream: Stream, raw: string): void {
    const owned = this.#owner(raw.endsWith('\r') ? raw.slice(0, -1) : raw)
    const c = owned.c
    let line = owned.line
    let sentinel = false
    if (line.endsWith(SENTINEL)) {
      sentinel = true
      line = line.slice(0, -SENTINEL.length)
    }
    if (line.length > 0 || !sentinel) {
      const formatted = this.#format(stream, line)
      if (c && this.#collecting(c, stream)) this.#add(c, formatted)
      else if (
        !this.#begun &&
        this.#early.length < MAX_EARLY_LINES &&
        this.#earlyChars + formatted.length <= DEFAULT_LINE_CAP
      ) {
        this.#early.push(formatted)
        this.#earlyChars += formatted.length
      }
    }
    if (sentinel && c) c.seen[stream] = true
  }

  /** Whether output on `stream` now belongs to the activation `c` (its sentinels are still to come). */
  #collecting(c: Collection, stream: Stream): boolean {
    return !(c.seen.stdout && c.seen.stderr) && !c.seen[stream]
  }

  #format(stream: Stream, text: string): string {
    return `${new Date().toISOString()} ${stream}: ${text}`
  }

  #add(c: Collection, line: string): void {
    if (c.truncated) return
    const size = Buffer.byteLength(line)
    if (c.bytes + size > c.limit) {
      this.#truncate(c)
      return
    }
    c.bytes += size
    c.lines.push(line)
  }

  /** Ends `c`'s logs with OpenWhisk's truncation line (once). */
  #truncate(c: Collection): void {
    if (c.truncated) return
    c.truncated = true
    c.lines.push(
      `${new Date().toISOString()} stderr: Logs were truncated because the total bytes size exceeds the limit of ${c.limit} bytes.`,
    )
  }
}
