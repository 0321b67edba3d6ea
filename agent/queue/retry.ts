import type { ActivationRecord, FunctionRecord } from '../store/index.ts'

/** The failures a function may choose to retry (annotation `retryOn`): OpenWhisk's statuses, a timeout apart. */
export const RETRY_ON = ['application error', 'action developer error', 'timeout'] as const
export type RetryOn = (typeof RETRY_ON)[number]

/**
 * A function's retry policy, from its annotations: `maxRetries` (0–10, default 0: one attempt),
 * `retryOn` (a list of RETRY_ON, default all three), `retryBackoffMs` (first delay, default 1000)
 * and `retryBackoffMaxMs` (the bound, default 60,000). A whisk internal error is the platform's,
 * never retried here (a job cut by a crash is taken over instead).
 */
export interface RetryPolicy {
  maxRetries: number
  retryOn: readonly RetryOn[]
  backoffMs: number
  backoffMaxMs: number
}

export const RETRY_LIMITS = { maxRetries: 10, backoffMs: 100, backoffMaxMs: 3_600_000 } as const

function int(v: unknown, min: number, max: number, fallback: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : fallback
}

export function retryPolicyOf(fn: FunctionRecord): RetryPolicy {
  const a = fn.annotations
  const on = Array.isArray(a.retryOn)
    ? a.retryOn.filter((x): x is RetryOn => (RETRY_ON as readonly unknown[]).includes(x))
    : typeof a.retryOn === 'string' && (RETRY_ON as readonly string[]).includes(a.retryOn)
      ? [a.retryOn as RetryOn]
      : [...RETRY_ON]
  const backoffMs = int(a.retryBackoffMs, RETRY_LIMITS.backoffMs, RETRY_LIMITS.backoffMaxMs, 1000)
  return {
    maxRetries: int(a.maxRetries, 0, RETRY_LIMITS.maxRetries, 0),
    retryOn: on,
    backoffMs,
    backoffMaxMs: Math.max(backoffMs, int(a.retryBackoffMaxMs, 0, RETRY_LIMITS.backoffMaxMs, 60_000)),
  }
}

/** Which RETRY_ON a failed record is, or null (a success, or a whisk internal error). */
export function failureOf(record: ActivationRecord): RetryOn | null {
  const { status } = record.response
  if (status === 'success' || status === 'whisk internal error') return null
  if (record.annotations.some((a) => a.key === 'timeout' && a.value === true)) return 'timeout'
  return status
}

/** Whether a job whose run `attempt` (1-based) ended in `record` runs again. */
export function retries(policy: RetryPolicy, record: ActivationRecord, attempt: number): boolean {
  const failure = failureOf(record)
  return failure !== null && policy.retryOn.includes(failure) && attempt <= policy.maxRetries
}

/**
 * The wait before run `attempt + 1`: exponential (`backoffMs` × 2^(attempt−1)), bounded by
 * `backoffMaxMs`, with jitter (a uniform draw from its upper half), so retries of many jobs that
 * failed together spread out.
 */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.backoffMaxMs, policy.backoffMs * 2 ** Math.max(0, attempt - 1))
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}

/** What the final record keeps of each failed attempt. */
export interface AttemptRecord {
  /** The attempt's own activation id (its record is stored and listed like any other). */
  activationId: string
  attempt: number
  node: string
  start: number
  end: number
  status: string
  result: unknown
}

export function attemptOf(record: ActivationRecord, attempt: number): AttemptRecord {
  return {
    activationId: record.activationId,
    attempt,
    node: record.node,
    start: record.start,
    end: record.end,
    status: record.response.status,
    result: record.response.result,
  }
}
