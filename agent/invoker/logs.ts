import { StringDecoder } from 'node:string_decoder'

export const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX'

type Stream = 'stdout' | 'stderr'

/** Start-up output kept for the first activation (a chatty server cannot grow memory without bound). */
const MAX_EARLY_LINES = 1000

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

/**
 * Splits one container's stdout/stderr into lines and attributes them to the activation in progress,
 * until both sentinels have been seen. Output before the first activation (server start-up) goes to
 * the first one; output after an activation's sentinels and before the next one begins is dropped,
 * so nothing is ever attributed to the wrong activation.
 */
export class LogCapture {
  #decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') }
  #partial = { stdout: '', stderr: '' }
  #early: string[] = []
  #begun = false
  #current: Collection | null = null
  #ended = false
  #lastData = 0
  #wake: (() => void) | null = null

  /** True once the container's output streams closed (the container exited). */
  get ended(): boolean {
    return this.#ended
  }

  feed(stream: Stream, chunk: Buffer): void {
    this.#lastData = performance.now()
    const text = this.#partial[stream] + this.#decoders[stream].write(chunk)
    const parts = text.split('\n')
    this.#partial[stream] = parts.pop() ?? ''
    for (const line of parts) this.#line(stream, line)
    this.#wake?.()
  }

  /** The streams closed: flush partial lines, release any waiter. */
  end(): void {
    if (this.#ended) return
    for (const s of ['stdout', 'stderr'] as const) {
      const rest = this.#partial[s] + this.#decoders[s].end()
      this.#partial[s] = ''
      if (rest) this.#line(s, rest)
    }
    this.#ended = true
    this.#wake?.()
  }

  /** Starts collecting for a new activation with its log limit (bytes). */
  begin(limitBytes: number): void {
    const lines = this.#begun ? [] : this.#early
    this.#begun = true
    this.#early = []
    this.#current = {
      lines: [],
      bytes: 0,
      limit: limitBytes,
      truncated: false,
      seen: { stdout: false, stderr: false },
    }
    for (const l of lines) this.#add(l)
  }

  /** Both sentinels of the current activation have been seen. */
  get complete(): boolean {
    const c = this.#current
    return c?.seen.stdout === true && c.seen.stderr
  }

  /**
   * Waits (bounded) for the sentinels, then closes the activation's collection.
   * `complete` tells whether both sentinels arrived (if not, the container's streams cannot be trusted
   * to line up with the next activation).
   */
  async finish(opts: FinishOptions): Promise<{ logs: string[]; complete: boolean }> {
    const c = this.#current
    if (!c) return { logs: [], complete: true }
    const started = performance.now()
    while (!this.complete && !this.#ended) {
      const now = performance.now()
      const left = opts.waitMs - (now - started)
      if (left <= 0) break
      if (opts.quietMs > 0 && now - Math.max(this.#lastData, started) >= opts.quietMs) break
      const step = opts.quietMs > 0 ? Math.min(left, opts.quietMs) : left
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, step)
        function done() {
          clearTimeout(timer)
          resolve()
        }
        this.#wake = done
      })
      this.#wake = null
    }
    const complete = this.complete
    if (!complete) {
      // No sentinels (blackbox, or a process that died): take unterminated lines too.
      for (const s of ['stdout', 'stderr'] as const) {
        if (this.#partial[s]) {
          this.#add(this.#format(s, this.#partial[s]))
          this.#partial[s] = ''
        }
      }
    }
    this.#current = null
    return { logs: c.lines, complete }
  }

  #line(stream: Stream, raw: string): void {
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    let sentinel = false
    if (line.endsWith(SENTINEL)) {
      sentinel = true
      line = line.slice(0, -SENTINEL.length)
    }
    const c = this.#current
    if (line.length > 0 || !sentinel) {
      const formatted = this.#format(stream, line)
      if (c && !(c.seen.stdout && c.seen.stderr) && !c.seen[stream]) this.#add(formatted)
      else if (!this.#begun && this.#early.length < MAX_EARLY_LINES) this.#early.push(formatted)
    }
    if (sentinel && c) c.seen[stream] = true
  }

  #format(stream: Stream, text: string): string {
    return `${new Date().toISOString()} ${stream}: ${text}`
  }

  #add(line: string): void {
    const c = this.#current
    if (!c || c.truncated) return
    const size = Buffer.byteLength(line)
    if (c.bytes + size > c.limit) {
      c.truncated = true
      c.lines.push(
        `${new Date().toISOString()} stderr: Logs were truncated because the total bytes size exceeds the limit of ${c.limit} bytes.`,
      )
      return
    }
    c.bytes += size
    c.lines.push(line)
  }
}
