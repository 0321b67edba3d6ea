import { describe, expect, it } from 'vitest'
import {
  compareVersions,
  formatHlc,
  HybridClock,
  isHlc,
  MAX_COUNTER,
  parseHlc,
} from '../../agent/store/hlc.ts'

describe('hybrid logical clock', () => {
  it('is monotonic even when the wall clock stands still or goes back', () => {
    let t = 1000
    const clock = new HybridClock({ now: () => t })
    const a = clock.now()
    const b = clock.now()
    t = 900
    const c = clock.now()
    expect(a < b && b < c).toBe(true)
    expect(parseHlc(c)).toEqual({ wall: 1000, counter: 2 })
  })

  it('moves past a timestamp received from a peer ahead of it', () => {
    const clock = new HybridClock({ now: () => 1000 })
    const remote = new HybridClock({ now: () => 5000 }).now()
    const r = clock.update(remote)
    expect(r > remote).toBe(true)
    expect(clock.now() > r).toBe(true)
  })

  it('ignores a peer clock more than maxDrift ahead', () => {
    const clock = new HybridClock({ now: () => 1000, maxDriftMs: 100 })
    const far = new HybridClock({ now: () => 10_000_000 }).now()
    expect(parseHlc(clock.update(far)).wall).toBe(1000)
  })

  it('breaks ties by origin so every node picks the same winner', () => {
    const x = { hlc: '000000000001000.000000', origin: 'A' }
    const y = { hlc: '000000000001000.000000', origin: 'B' }
    expect(compareVersions(x, y)).toBeLessThan(0)
    expect(compareVersions(y, x)).toBeGreaterThan(0)
  })
})

describe('hybrid logical clock counter bound', () => {
  it('carries into the wall part instead of overflowing when the wall clock stays behind', () => {
    const clock = new HybridClock({ now: () => 1000 })
    let prev = clock.now()
    for (let i = 0; i < MAX_COUNTER + 5; i++) {
      const next = clock.now()
      if (!(isHlc(next) && next > prev)) throw new Error(`event ${i}: ${next} after ${prev}`)
      prev = next
    }
    expect(parseHlc(prev)).toEqual({ wall: 1001, counter: 4 })
  })

  it('carries when a peer timestamp has the counter at its bound', () => {
    const clock = new HybridClock({ now: () => 1000 })
    const remote = formatHlc(1000, MAX_COUNTER)
    const r = clock.update(remote)
    expect(isHlc(r)).toBe(true)
    expect(r > remote).toBe(true)
    expect(clock.now() > r).toBe(true)
  })

  it('tells a timestamp more than maxDrift ahead of its clock', () => {
    const clock = new HybridClock({ now: () => 10_000, maxDriftMs: 1000 })
    expect(clock.tooFarAhead(formatHlc(10_900, 0))).toBe(false)
    expect(clock.tooFarAhead(formatHlc(11_001, 0))).toBe(true)
  })
})
