import { BUCKETS, type Db, pad } from './db.ts'
import { type ActivationRecord, activationRecordSchema } from './types.ts'

export interface ActivationQuery {
  /** `name` or `namespace/name`. */
  name?: string
  limit?: number
  skip?: number
  /** Only records that started at or after this epoch ms. */
  since?: number
  /** Only records that started at or before this epoch ms. */
  upto?: number
}

const timeKey = (r: { start: number; activationId: string }) => `${pad(r.start)}\x00${r.activationId}`

/** Activation records, indexed by id and by start time (newest first in listings). */
export class ActivationRepository {
  readonly #db: Db
  readonly #byId
  readonly #byTime

  constructor(db: Db) {
    this.#db = db
    this.#byId = db.sublevel<string, ActivationRecord>(BUCKETS.activations, { valueEncoding: 'json' })
    this.#byTime = db.sublevel<string, string>(BUCKETS.activationsByTime, { valueEncoding: 'utf8' })
  }

  async get(id: string): Promise<ActivationRecord | null> {
    return (await this.#byId.get(id)) ?? null
  }

  /** Stores a record with its time index in one batch; an existing record with the same id is replaced. */
  async put(record: ActivationRecord): Promise<void> {
    activationRecordSchema.parse(record)
    const old = await this.#byId.get(record.activationId)
    const batch = this.#db.batch()
    if (old && old.start !== record.start) batch.del(timeKey(old), { sublevel: this.#byTime })
    batch.put(record.activationId, record, { sublevel: this.#byId })
    batch.put(timeKey(record), '', { sublevel: this.#byTime })
    await batch.write()
  }

  async list(q: ActivationQuery = {}): Promise<ActivationRecord[]> {
    const limit = q.limit ?? 30
    let skip = q.skip ?? 0
    const out: ActivationRecord[] = []
    const range = {
      reverse: true,
      ...(q.since !== undefined ? { gte: pad(q.since) } : {}),
      ...(q.upto !== undefined ? { lt: pad(q.upto + 1) } : {}),
    }
    for await (const key of this.#byTime.keys(range)) {
      const id = key.slice(key.indexOf('\x00') + 1)
      const rec = await this.#byId.get(id)
      if (!rec) continue
      if (q.name && rec.name !== q.name && `${rec.namespace}/${rec.name}` !== q.name) continue
      if (skip > 0) {
        skip--
        continue
      }
      out.push(rec)
      if (out.length >= limit) break
    }
    return out
  }

  async count(): Promise<number> {
    let n = 0
    for await (const _ of this.#byId.keys()) n++
    return n
  }
}
