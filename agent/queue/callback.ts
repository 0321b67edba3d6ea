import type { Logger } from '../log.ts'
import type { ActivationRecord } from '../store/index.ts'

/** How a completion callback is delivered: attempts, backoff, the bound on each POST. */
export interface CallbackOptions {
  /** POSTs tried before delivery is given up (recorded as not delivered). */
  maxAttempts: number
  /** Wait before the second POST; doubles each time, with jitter, up to `maxBackoffMs`. */
  backoffMs: number
  maxBackoffMs: number
  /** Bound on one POST, ms. */
  timeoutMs: number
}

export const CALLBACK_DEFAULTS: CallbackOptions = {
  maxAttempts: 10,
  backoffMs: 500,
  maxBackoffMs: 30_000,
  timeoutMs: 10_000,
}

/** What the record keeps of a delivery (annotation `callback`). */
export interface Delivery {
  url: string
  delivered: boolean
  attempts: number
  /** The HTTP status of the last POST, or its error. */
  last: number | string
  at: number
}

/** A callback URL the agent will POST to: http or https only, at most 2,048 characters; else null. */
export function callbackUrl(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.length > 2048) return null
  try {
    const u = new URL(raw)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null
  } catch {
    return null
  }
}

/**
 * POSTs a finished activation record (JSON) to its callback URL until a 2xx answer, retried with
 * exponential backoff and jitter; resolves with what the record keeps of the delivery. Stops
 * early (undelivered) when `signal` aborts (the agent stops).
 */
export async function deliver(
  record: ActivationRecord,
  url: string,
  o: CallbackOptions,
  logger: Logger,
  signal: AbortSignal,
): Promise<Delivery> {
  const body = JSON.stringify(record)
  let last: number | string = 'not tried'
  let attempt = 0
  while (attempt < o.maxAttempts && !signal.aborted) {
    attempt++
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-activation-id': record.activationId,
          'x-callback-attempt': String(attempt),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs)]),
      })
      await res.body?.cancel()
      last = res.status
      if (res.ok) return { url, delivered: true, attempts: attempt, last, at: Date.now() }
    } catch (err) {
      last = (err as Error).message
    }
    logger.debug({ activationId: record.activationId, url, attempt, last }, 'callback not delivered yet')
    if (attempt >= o.maxAttempts) break
    const ceiling = Math.min(o.maxBackoffMs, o.backoffMs * 2 ** (attempt - 1))
    await sleep(ceiling / 2 + (Math.random() * ceiling) / 2, signal)
  }
  logger.warn({ activationId: record.activationId, url, attempts: attempt, last }, 'callback not delivered')
  return { url, delivered: false, attempts: attempt, last, at: Date.now() }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
