import { BUCKETS, type Db } from '../store/index.ts'

const PREFIX = 'handoff\0'

/**
 * Activation records this node holds without owning them (it ran or received them) whose owners
 * have not all confirmed a copy yet. Persisted under the replication bucket, so a restart still
 * hands them off; retried each anti-entropy round.
 */
export class Handoff {
  readonly #level
  readonly #ids = new Set<string>()

  constructor(db: Db) {
    this.#level = db.sublevel<string, string>(BUCKETS.replication, { valueEncoding: 'utf8' })
  }

  get size(): number {
    return this.#ids.size
  }

  async load(): Promise<void> {
    for await (const key of this.#level.keys({ gte: PREFIX, lt: `${PREFIX}\xff` })) {
      this.#ids.add(key.slice(PREFIX.length))
    }
  }

  async add(id: string): Promise<void> {
    if (this.#ids.has(id)) return
    this.#ids.add(id)
    await this.#level.put(PREFIX + id, '')
  }

  async remove(ids: readonly string[]): Promise<void> {
    const gone = ids.filter((id) => this.#ids.delete(id))
    if (gone.length > 0)
      await this.#level.batch(gone.map((id) => ({ type: 'del' as const, key: PREFIX + id })))
  }

  /** Up to `n` pending ids, oldest first. */
  take(n: number): string[] {
    const out: string[] = []
    for (const id of this.#ids) {
      if (out.length >= n) break
      out.push(id)
    }
    return out
  }
}
