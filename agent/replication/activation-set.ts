import type { ActivationRecord, Store } from '../store/index.ts'
import { LeafTable, versionOf } from './digest.ts'
import { ACT_DEPTH, partitionOf } from './owners.ts'

const rangeOf = (leaf: string) => ({ gte: leaf, lt: `${leaf}g` }) // ids are lowercase hex

export interface ActivationLimits {
  /** Records that started before this (epoch ms) are expired. */
  floor(): number
}

/**
 * Activation records as anti-entropy sees them: leaf hashes per partition (the first hex digits of
 * the id), built once at start by a scan, then recomputed per partition after a change.
 */
export class ActivationSet {
  readonly depth = ACT_DEPTH
  readonly #store: Store
  readonly #limits: ActivationLimits
  readonly #table = new LeafTable()
  readonly #dirty = new Set<string>()
  #ready: Promise<void> | null = null
  #serial: Promise<unknown> = Promise.resolve()
  /** Records held (approximate between recounts: an overwrite counts once more). */
  count = 0

  constructor(store: Store, limits: ActivationLimits) {
    this.#store = store
    this.#limits = limits
  }

  /** A record was stored by someone else (the activation service): its partition's hash is stale. */
  changed(activationId: string, isNew = true): void {
    this.#dirty.add(partitionOf(activationId))
    if (isNew) this.count++
  }

  async table(): Promise<LeafTable> {
    this.#ready ??= this.#build()
    await this.#ready
    for (const leaf of [...this.#dirty]) {
      this.#dirty.delete(leaf)
      const fresh = new LeafTable()
      for await (const r of this.#store.activations.scan(rangeOf(leaf))) {
        fresh.toggle(leaf, r.activationId, versionOf(r))
      }
      this.#table.set(leaf, Buffer.from(fresh.leaf(leaf), 'hex'))
    }
    return this.#table
  }

  async entries(leaves: readonly string[]): Promise<Map<string, Map<string, string>>> {
    const out = new Map<string, Map<string, string>>()
    for (const leaf of leaves) {
      const m = new Map<string, string>()
      for await (const r of this.#store.activations.scan(rangeOf(leaf))) m.set(r.activationId, versionOf(r))
      out.set(leaf, m)
    }
    return out
  }

  async get(ids: readonly string[]): Promise<ActivationRecord[]> {
    const out: ActivationRecord[] = []
    for (const id of ids) {
      const r = await this.#store.activations.get(id)
      if (r) out.push(r)
    }
    return out
  }

  /** Stores replicated records unless newer ones are here; per record, false when refused as expired. */
  applyMany(records: readonly ActivationRecord[]): Promise<boolean[]> {
    const next = this.#serial.then(async () => {
      const floor = this.#limits.floor()
      const fresh = records.filter((r) => r.start >= floor)
      const written = await this.#store.activations.putManyIfNewer(fresh)
      for (const [i, r] of fresh.entries()) if (written[i]) this.changed(r.activationId)
      return records.map((r) => r.start >= floor)
    })
    this.#serial = next.catch(() => {})
    return next
  }

  /** Records deleted by retention. */
  removed(records: readonly ActivationRecord[]): void {
    for (const r of records) this.#dirty.add(partitionOf(r.activationId))
    this.count = Math.max(0, this.count - records.length)
  }

  async #build(): Promise<void> {
    let n = 0
    for await (const r of this.#store.activations.scan()) {
      this.#table.toggle(partitionOf(r.activationId), r.activationId, versionOf(r))
      n++
    }
    this.count += n
  }
}
