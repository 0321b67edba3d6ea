import fc from 'fast-check'
import { Counter, Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { FastCounter, FastHistogram } from '../../agent/metrics/series.ts'

const BOUNDS = [0.001, 0.01, 0.1, 1, 10]
const fns = ['a', 'b', 'c']

/** The same observations through prom-client's own metrics and through series.ts. */
async function both(obs: Array<{ fn: number; status: number; v: number }>): Promise<[string, string]> {
  const ours = new Registry()
  const theirs = new Registry()
  const h = new FastHistogram('x_seconds', 'help', BOUNDS, ours)
  const c = new FastCounter('x_total', 'help', ours)
  const ph = new Histogram({
    name: 'x_seconds',
    help: 'help',
    labelNames: ['function'],
    buckets: BOUNDS,
    registers: [theirs],
  })
  const pc = new Counter({
    name: 'x_total',
    help: 'help',
    labelNames: ['function', 'status'],
    registers: [theirs],
  })
  for (const o of obs) {
    const fn = fns[o.fn]!
    const status = o.status ? 'success' : 'application_error'
    h.series({ function: fn }).observe(o.v)
    c.series({ function: fn, status }).inc()
    ph.observe({ function: fn }, o.v)
    pc.inc({ function: fn, status })
  }
  return [await ours.metrics(), await theirs.metrics()]
}

/** Sample lines, sorted (the two may list series in another order; label order is the same). */
const lines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .sort()

describe('series.ts: counters and histograms counted as plain numbers', () => {
  it('scrape to exactly what prom-client writes for the same observations', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            fn: fc.integer({ min: 0, max: 2 }),
            status: fc.integer({ min: 0, max: 1 }),
            v: fc.oneof(fc.constantFrom(0, ...BOUNDS, 11), fc.double({ min: 0, max: 20, noNaN: true })),
          }),
          { maxLength: 60 },
        ),
        async (obs) => {
          const [ours, theirs] = await both(obs)
          expect(lines(ours)).toEqual(lines(theirs))
          expect(ours).toContain('# TYPE x_seconds histogram')
          expect(ours).toContain('# TYPE x_total counter')
        },
      ),
      { numRuns: 200 },
    )
  })
})
