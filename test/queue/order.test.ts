import { describe, expect, it } from 'vitest'
import { effectivePriority, JobOrder } from '../../agent/queue/index.ts'

const job = (seq: number, priority: number, accepted = 0) => ({ seq, priority, accepted })

describe('the queue order', () => {
  it('takes higher priorities first, then arrival order', () => {
    const o = new JobOrder<ReturnType<typeof job>>(60_000)
    for (const [seq, p] of [
      [0, 0],
      [1, 1],
      [2, 0],
      [3, 2],
      [4, 1],
      [5, 2],
    ] as const)
      o.push(job(seq, p))
    expect(o.depths()).toEqual([2, 2, 2])
    const out = Array.from({ length: 6 }, () => o.shift(0)?.seq)
    expect(out).toEqual([3, 5, 1, 4, 0, 2])
    expect(o.shift(0)).toBeUndefined()
  })

  it('puts a refused job back at its place by arrival', () => {
    const o = new JobOrder<ReturnType<typeof job>>(60_000)
    for (let i = 0; i < 4; i++) o.push(job(i, 0))
    const first = o.shift(0)!
    o.push(first)
    expect(o.shift(0)?.seq).toBe(0)
  })

  it('ages: one level per agingMs waited, up to 2, so a low priority is not starved for ever', () => {
    expect(effectivePriority(job(0, 0, 0), 59_999, 60_000)).toBe(0)
    expect(effectivePriority(job(0, 0, 0), 60_000, 60_000)).toBe(1)
    expect(effectivePriority(job(0, 0, 0), 10 * 60_000, 60_000)).toBe(2)
    const o = new JobOrder<ReturnType<typeof job>>(1000)
    o.push(job(0, 0, 0)) // waited 2 s at t=2000: competes as 2, and arrived first
    o.push(job(1, 2, 1900))
    expect(o.shift(2000)?.seq).toBe(0)
    expect(o.oldest()).toBe(1900)
  })
})
