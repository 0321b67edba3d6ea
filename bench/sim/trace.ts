import { rng } from './heap.ts'

export interface Arrival {
  at: number
  fn: number
  duration: number
  /** The node that receives the invocation (its local CLI / API). */
  receiver: number
}

export interface TraceOptions {
  nodes: number
  slotsPerNode: number
  functions: number
  zipf: number
  meanDurationMs: number
  /** Target utilisation of all slots by execution time. */
  load: number
  durationMs: number
  maxArrivals: number
  seed: number
}

/** Poisson arrivals, Zipf function popularity, exponential durations; the same trace for every policy. */
export function makeTrace(o: TraceOptions): Arrival[] {
  const r = rng(o.seed)
  const weights = Array.from({ length: o.functions }, (_, i) => 1 / (i + 1) ** o.zipf)
  const total = weights.reduce((a, b) => a + b, 0)
  const cdf: number[] = []
  let acc = 0
  for (const w of weights) {
    acc += w / total
    cdf.push(acc)
  }
  const pick = () => {
    const u = r()
    let lo = 0
    let hi = cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid]! < u) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  const ratePerMs = (o.load * o.nodes * o.slotsPerNode) / o.meanDurationMs
  const out: Arrival[] = []
  let t = 0
  while (out.length < o.maxArrivals) {
    t += -Math.log(1 - r()) / ratePerMs
    if (t > o.durationMs) break
    out.push({
      at: t,
      fn: pick(),
      duration: -Math.log(1 - r()) * o.meanDurationMs,
      receiver: Math.floor(r() * o.nodes),
    })
  }
  return out
}
