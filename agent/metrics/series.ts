import type { Metric, Registry } from 'prom-client'

/**
 * Counters and histograms whose hot path is a plain number increment: a caller looks its series up
 * once (by its label values) and keeps it, so counting an invocation hashes and validates no labels
 * (prom-client's `inc`/`observe` do both at every call, also through `labels()`). prom-client's
 * registry formats them at scrape, as it formats its own (docs/performance.md#metrics-on-vs-off).
 */

export type Labels = Readonly<Record<string, string>>

interface Sample {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/** One labelled series of a counter. */
export class CounterSeries {
  readonly labels: Labels
  value = 0

  constructor(labels: Labels) {
    this.labels = labels
  }

  inc(n = 1): void {
    this.value += n
  }
}

/** One labelled series of a histogram: per-bucket counts (not cumulative), sum and count. */
export class HistogramSeries {
  readonly labels: Labels
  readonly bounds: readonly number[]
  readonly counts: number[]
  sum = 0
  count = 0

  constructor(labels: Labels, bounds: readonly number[]) {
    this.labels = labels
    this.bounds = bounds
    this.counts = bounds.map(() => 0)
  }

  observe(v: number): void {
    this.sum += v
    this.count++
    const b = this.bounds
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++
        return
      }
    }
  }
}

/** A metric family registered in a prom-client registry; its series are made on first use. */
abstract class Family<S extends { labels: Labels }> {
  readonly #series = new Map<string, S>()
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'histogram'

  constructor(name: string, help: string, type: 'counter' | 'histogram', registry: Registry) {
    this.name = name
    this.help = help
    this.type = type
    // prom-client's registry asks a metric only for its name and `get()`.
    registry.registerMetric(this as unknown as Metric)
  }

  /** The series of these label values (made once; keep it). */
  series(labels: Labels = {}): S {
    const key = Object.values(labels).join('\u0000')
    let s = this.#series.get(key)
    if (!s) {
      s = this.make(labels)
      this.#series.set(key, s)
    }
    return s
  }

  protected abstract make(labels: Labels): S
  protected abstract samples(s: S): Sample[]

  /** What prom-client's registry formats. */
  async get(): Promise<{ name: string; help: string; type: string; values: Sample[]; aggregator: string }> {
    const values = [...this.#series.values()].flatMap((s) => this.samples(s))
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' }
  }
}

export class FastCounter extends Family<CounterSeries> {
  constructor(name: string, help: string, registry: Registry) {
    super(name, help, 'counter', registry)
  }

  protected make(labels: Labels): CounterSeries {
    return new CounterSeries(labels)
  }

  protected samples(s: CounterSeries): Sample[] {
    return [{ value: s.value, labels: { ...s.labels } }]
  }
}

export class FastHistogram extends Family<HistogramSeries> {
  readonly #bounds: readonly number[]

  constructor(name: string, help: string, bounds: readonly number[], registry: Registry) {
    super(name, help, 'histogram', registry)
    this.#bounds = bounds
  }

  protected make(labels: Labels): HistogramSeries {
    return new HistogramSeries(labels, this.#bounds)
  }

  protected samples(s: HistogramSeries): Sample[] {
    const out: Sample[] = []
    let cumulative = 0
    for (const [i, le] of s.bounds.entries()) {
      cumulative += s.counts[i]!
      out.push({ metricName: `${this.name}_bucket`, labels: { le, ...s.labels }, value: cumulative })
    }
    out.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...s.labels }, value: s.count })
    out.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum })
    out.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count })
    return out
  }
}
