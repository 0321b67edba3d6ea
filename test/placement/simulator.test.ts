import { describe, expect, it } from 'vitest'
import { SIM_DEFAULTS, type SimResult, simulateAll } from '../../bench/sim/run.ts'

const by = (rows: SimResult[], policy: string) => rows.find((r) => r.policy === policy)!

describe('the placement simulator', () => {
  it('reports the wait for a slot apart from the placement round trips', () => {
    // Two one-slot nodes offered three times what they can run: work must wait in a queue.
    const rows = simulateAll(2, { slotsPerNode: 1, load: 3, durationMs: 5_000, functions: 2 })
    const omni = by(rows, 'omniscient')
    expect(omni.queued).toBeGreaterThan(0.5)
    expect(omni.p99QueueMs).toBeGreaterThan(100)
    // A central scheduler never hears a refusal: at most the one round trip to the runner.
    expect(omni.refusals).toBe(0)
    expect(omni.multiHop).toBe(0)
    expect(omni.p99PlaceMs).toBeLessThanOrEqual(SIM_DEFAULTS.hopMs)
    expect(omni.p99DelayMs).toBeGreaterThanOrEqual(omni.p99QueueMs)
  })

  it("counts each of fnagent's remote refusals as one more round trip", () => {
    const rows = simulateAll(10, { durationMs: 20_000 })
    const fn = by(rows, 'fnagent')
    expect(fn.refusals).toBeGreaterThan(0)
    expect(fn.multiHop).toBeGreaterThan(0)
    expect(fn.p99PlaceMs).toBeGreaterThanOrEqual(2 * SIM_DEFAULTS.hopMs)
    // At half load on ten nodes nothing waits for a slot, with fnagent as with the omniscient one.
    expect(fn.p99QueueMs).toBe(0)
    const omni = by(rows, 'omniscient')
    expect(omni.p99QueueMs).toBe(0)
    // What a caller waits for on the mean: its share of cold starts, plus at most a round trip.
    const coldPart = omni.coldRatio * SIM_DEFAULTS.coldStartMs
    expect(omni.meanStartMs).toBeGreaterThanOrEqual(coldPart)
    expect(omni.meanStartMs).toBeLessThanOrEqual(coldPart + SIM_DEFAULTS.hopMs)
    expect(fn.meanStartMs).toBeGreaterThan(fn.coldRatio * SIM_DEFAULTS.coldStartMs + SIM_DEFAULTS.hopMs)
    // More than 1% start cold, so the 99th percentile caller waits for a cold start.
    expect(fn.coldRatio).toBeGreaterThan(0.01)
    expect(fn.p99StartMs).toBeGreaterThanOrEqual(SIM_DEFAULTS.coldStartMs)
  })

  it('measures walk variants on the same trace: forcing the first node asked trades refusals for cold starts', () => {
    const o = { durationMs: 20_000 }
    const base = simulateAll(10, o)
    const agent = by(base, 'fnagent')
    const rows = simulateAll(10, o, { forceAfter: 0 })
    const forced = by(rows, 'fnagent (forced after 0)')
    // The other policies run the same trace as before: only fnagent's walk differs.
    expect(by(rows, 'omniscient').coldRatio).toBe(by(base, 'omniscient').coldRatio)
    expect(forced.refusals).toBeLessThan(agent.refusals / 2)
    expect(forced.multiHop).toBeLessThan(agent.multiHop)
    expect(forced.coldRatio).toBeGreaterThan(1.5 * agent.coldRatio)
  })
})
