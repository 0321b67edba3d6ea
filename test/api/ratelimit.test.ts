import { describe, expect, it } from 'vitest'
import { RateLimiter } from '../../agent/api/openwhisk/ratelimit.ts'

describe('RateLimiter (token bucket per key)', () => {
  it('lets a burst through, refuses the rest, and refills at the configured rate', () => {
    let now = 0
    const rl = new RateLimiter({ perMinute: 60, burst: 3, now: () => now })
    expect([rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([null, null, null])
    expect(rl.take('a')).toEqual({ count: 4, allowed: 60 })
    expect(rl.take('b')).toBeNull()
    now += 1000 // one token a second
    expect(rl.take('a')).toBeNull()
    expect(rl.take('a')).not.toBeNull()
  })

  it('forgets idle keys', () => {
    let now = 0
    const rl = new RateLimiter({ perMinute: 60, burst: 2, now: () => now })
    for (let i = 0; i < 100; i++) rl.take(`k${i}`)
    expect(rl.size).toBe(100)
    now += 120_000
    rl.take('fresh')
    expect(rl.size).toBe(1)
  })
})
