import { describe, expect, it } from 'vitest'
import { backoffMs, failureOf, retries, retryPolicyOf } from '../../agent/queue/retry.ts'
import type { ActivationRecord, FunctionRecord } from '../../agent/store/types.ts'

const fn = (annotations: Record<string, unknown>) => ({ annotations }) as unknown as FunctionRecord
const rec = (status: string, timeout = false) =>
  ({
    response: { status },
    annotations: timeout ? [{ key: 'timeout', value: true }] : [],
  }) as unknown as ActivationRecord

describe('the retry policy', () => {
  it('reads maxRetries, retryOn and the backoff bounds from the annotations, with defaults', () => {
    expect(retryPolicyOf(fn({}))).toEqual({
      maxRetries: 0,
      retryOn: ['application error', 'action developer error', 'timeout'],
      backoffMs: 1000,
      backoffMaxMs: 60_000,
    })
    const p = retryPolicyOf(fn({ maxRetries: 3, retryOn: ['timeout', 'bogus'], retryBackoffMs: 200 }))
    expect(p).toMatchObject({ maxRetries: 3, retryOn: ['timeout'], backoffMs: 200 })
    expect(retryPolicyOf(fn({ maxRetries: 99 })).maxRetries).toBe(0)
  })

  it('retries the failures the function chose, up to maxRetries, never a platform error', () => {
    const p = retryPolicyOf(fn({ maxRetries: 2, retryOn: ['application error', 'timeout'] }))
    expect(failureOf(rec('action developer error', true))).toBe('timeout')
    expect(retries(p, rec('application error'), 1)).toBe(true)
    expect(retries(p, rec('application error'), 2)).toBe(true)
    expect(retries(p, rec('application error'), 3)).toBe(false)
    expect(retries(p, rec('action developer error'), 1)).toBe(false)
    expect(retries(p, rec('action developer error', true), 1)).toBe(true)
    expect(retries(p, rec('whisk internal error'), 1)).toBe(false)
    expect(retries(p, rec('success'), 1)).toBe(false)
  })

  it('backs off exponentially within its bound, with jitter in the upper half', () => {
    const p = retryPolicyOf(fn({ retryBackoffMs: 1000, retryBackoffMaxMs: 5000 }))
    expect([1, 2, 3, 4].map((n) => backoffMs(p, n, () => 1))).toEqual([1000, 2000, 4000, 5000])
    expect([1, 2, 3, 4].map((n) => backoffMs(p, n, () => 0))).toEqual([500, 1000, 2000, 2500])
  })
})
