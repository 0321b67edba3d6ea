export interface WaitOptions {
  /** What is awaited, for the error when the bound passes ("3 agents to see each other"). */
  what: string
  /** The bound: fail after this long, ms. */
  timeoutMs: number
  /** Pause between checks, ms (default 100). */
  everyMs?: number
}

/**
 * The one polling helper of the tests and benches: calls `check` until it returns a truthy value
 * (and returns that value), at most `timeoutMs`; a check that throws counts as not yet, and its
 * last error is named in the timeout's message.
 */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  { what, timeoutMs, everyMs = 100 }: WaitOptions,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v) return v as NonNullable<T>
    } catch (err) {
      last = err
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
