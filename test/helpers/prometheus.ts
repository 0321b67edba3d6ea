import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format'

/** One scrape of `/metrics`, parsed by a Prometheus text-format parser. */
export class Scrape {
  readonly families: Map<string, PromFamily>

  constructor(text: string) {
    this.families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]))
  }

  static async of(url: string): Promise<Scrape> {
    const res = await fetch(url)
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`)
    return new Scrape(await res.text())
  }

  type(name: string): string | undefined {
    return this.families.get(name)?.type
  }

  /** The sum of a counter's or gauge's samples whose labels include `labels`. */
  sum(name: string, labels: Record<string, string> = {}): number {
    let total = 0
    for (const m of this.families.get(name)?.metrics ?? []) {
      if (Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)) total += Number(m.value)
    }
    return total
  }
}
