import type { Db } from './db.ts'
import { compareVersions } from './hlc.ts'

/** A record ordered by last-writer-wins on (HLC, origin). */
export interface LwwRecord {
  updated: string
  origin: string
}

export const lwwOf = (r: LwwRecord) => ({ hlc: r.updated, origin: r.origin })

/**
 * A small replicated table (API keys, packages): one sublevel, every record cached in memory, every
 * write through this class. Copies are merged by last-writer-wins; a record keeps its id forever
 * (a delete is a newer copy marked deleted), so a stale copy never brings a removed one back.
 */
export class LwwTable<R extends LwwRecord> {
  readonly #level
  readonly #idOf: (r: R) => string
  readonly #upgrade: (raw: R) => R
  #cache: Map<string, R> | null = null

  constructor(db: Db, bucket: string, idOf: (r: R) => string, upgrade: (raw: R) => R = (r) => r) {
    this.#level = db.sublevel<string, R>(bucket, { valueEncoding: 'json' })
    this.#idOf = idOf
    this.#upgrade = upgrade
  }

  async #all(): Promise<Map<string, R>> {
    if (this.#cache) return this.#cache
    const map = new Map<string, R>()
    for await (const [id, rec] of this.#level.iterator()) map.set(id, this.#upgrade(rec))
    this.#cache = map
    return map
  }

  async all(): Promise<R[]> {
    return [...(await this.#all()).values()]
  }

  async get(id: string): Promise<R | null> {
    return (await this.#all()).get(id) ?? null
  }

  async put(record: R): Promise<void> {
    const id = this.#idOf(record)
    await this.#level.put(id, record)
    ;(await this.#all()).set(id, record)
  }

  /**
   * Stores `record` when it wins over the copy here by last-writer-wins (`keep` may carry fields of
   * the losing copy over); returns whether it did.
   */
  async merge(record: R, keep: (winner: R, here: R) => R = (w) => w): Promise<boolean> {
    const here = await this.get(this.#idOf(record))
    if (here && compareVersions(lwwOf(record), lwwOf(here)) <= 0) return false
    await this.put(here ? keep(record, here) : record)
    return true
  }
}
