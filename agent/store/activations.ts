import { BUCKETS, type Db, pad } from './db.ts'
import {
  type ActivationRecord,
  activationRecordSchema,
  compareActivations,
  isDeadLetter,
  pendingCallback,
} from './types.ts'

export interface ActivationQuery {
  /** `name` or `namespace/name`. */
  name?: string
  /** Only records of this namespace. */
  namespace?: string
  limit?: number
  skip?: number
  /** Only records that started at or after this epoch ms. */
  since?: number
  /** Only records that started at or before this epoch ms. */
  upto?: number
}

const timeKey = (r: { start: number; activationId: string }) => `${pad(r.start)}\x00${r.activationId}`
/** The time index's value: the record's full name, so a name filter reads no record (older entries hold ''). */
const indexValue = (r: { namespace: string; name: string }) => `${r.namespace}/${r.name}`

/**
 * Index entries one listing or count looks at, at most: a filter that matches little, or a large
 * `skip`, costs a bounded time and no memory beyond the answer (OpenWhisk lists 200 at most).
 */
export const MAX_SCAN = 100_000

function nameMatches(q: ActivationQuery, full: string): boolean {
  if (q.namespace !== undefined && !full.startsWith(`${q.namespace}/`)) return false
  return !q.name || full === q.name || full.slice(full.indexOf('/') + 1) === q.name
}

/**
 * Activation records, indexed by id and by start time (newest first in listings). The check for an
 * existing record before each write reads synchronously (`getSync`: a small record, from LevelDB's
 * cache or memtable in microseconds), not through the thread pool, which cost a hop and a wakeup
 * on every invocation.
 */
export class ActivationRepository {
  readonly #db: Db
  readonly #byId
  readonly #byTime
  readonly #running
  readonly #dead
  readonly #callbacks

  readonly #maxScan: number

  constructor(db: Db, opts: { maxScan?: number } = {}) {
    this.#db = db
    this.#maxScan = opts.maxScan ?? MAX_SCAN
    this.#byId = db.sublevel<string, ActivationRecord>(BUCKETS.activations, { valueEncoding: 'json' })
    this.#byTime = db.sublevel<string, string>(BUCKETS.activationsByTime, { valueEncoding: 'utf8' })
    this.#running = db.sublevel<string, string>(BUCKETS.activationsRunning, { valueEncoding: 'utf8' })
    this.#dead = db.sublevel<string, string>(BUCKETS.activationsDead, { valueEncoding: 'utf8' })
    this.#callbacks = db.sublevel<string, string>(BUCKETS.activationsCallback, { valueEncoding: 'utf8' })
  }

  /** Records held (kept by every write and delete here; counted once when the store opens). */
  #count = 0
  /** Ids of new records whose write is under way (two concurrent writes of one new id count once). */
  readonly #pendingNew = new Set<string>()

  /**
   * Waits until the sublevels are open (they are read synchronously) and counts the records once
   * (about a second per million), so that `count()`, which status calls, costs nothing.
   */
  async open(): Promise<void> {
    await Promise.all([
      this.#byId.open(),
      this.#byTime.open(),
      this.#running.open(),
      this.#dead.open(),
      this.#callbacks.open(),
    ])
    let n = 0
    for await (const _ of this.#byId.keys()) n++
    this.#count = n
  }

  /** Whether writing `id` adds a record, claiming it until `settle` (synchronous with the read of the old one). */
  #claimNew(id: string, old: ActivationRecord | undefined): boolean {
    if (old || this.#pendingNew.has(id)) return false
    this.#pendingNew.add(id)
    return true
  }

  /** Adds the writes of one record to a batch: the record, its time index, its running marker index. */
  #stage(batch: ReturnType<Db['batch']>, record: ActivationRecord, old: ActivationRecord | undefined): void {
    if (old && old.start !== record.start) batch.del(timeKey(old), { sublevel: this.#byTime })
    batch.put(record.activationId, record, { sublevel: this.#byId })
    // The index names a finished record (a name filter then reads no record); '' for a running marker.
    batch.put(timeKey(record), record.phase === 'running' ? '' : indexValue(record), {
      sublevel: this.#byTime,
    })
    if (record.phase === 'running') batch.put(record.activationId, '', { sublevel: this.#running })
    else if (old?.phase === 'running') batch.del(record.activationId, { sublevel: this.#running })
    if (isDeadLetter(record)) batch.put(record.activationId, '', { sublevel: this.#dead })
    else if (old && isDeadLetter(old)) batch.del(record.activationId, { sublevel: this.#dead })
    if (pendingCallback(record)) batch.put(record.activationId, '', { sublevel: this.#callbacks })
    else if (old && pendingCallback(old)) batch.del(record.activationId, { sublevel: this.#callbacks })
  }

  /** Finished jobs' records held here whose completion callback is not delivered yet (ids), at most `limit`. */
  async pendingCallbackIds(limit = 200): Promise<string[]> {
    return this.#callbacks.keys({ limit }).all()
  }

  /** The dead letters held here (ids in id order), at most `limit`. */
  async deadIds(limit = 200): Promise<string[]> {
    return this.#dead.keys({ limit }).all()
  }

  /** Ids of the records held here in phase `running` (markers not yet resolved). */
  async runningIds(): Promise<string[]> {
    const out: string[] = []
    for await (const id of this.#running.keys()) out.push(id)
    return out
  }

  async get(id: string): Promise<ActivationRecord | null> {
    return (await this.#byId.get(id)) ?? null
  }

  /** Stores a record with its time index in one batch; an existing record with the same id is replaced. */
  async put(record: ActivationRecord): Promise<void> {
    activationRecordSchema.parse(record)
    const old = this.#byId.getSync(record.activationId)
    const isNew = this.#claimNew(record.activationId, old)
    const batch = this.#db.batch()
    this.#stage(batch, record, old)
    try {
      await batch.write()
      if (isNew) this.#count++
    } finally {
      if (isNew) this.#pendingNew.delete(record.activationId)
    }
  }

  /** Newest first; looks at `MAX_SCAN` index entries at most (see there). */
  async list(q: ActivationQuery = {}): Promise<ActivationRecord[]> {
    const limit = q.limit ?? 30
    let skip = q.skip ?? 0
    const out: ActivationRecord[] = []
    if (limit <= 0) return out
    for await (const [key, full] of this.#scan(q)) {
      if (full && !nameMatches(q, full)) continue
      // Skipping needs no record when the index names it.
      if (full && skip > 0) {
        skip--
        continue
      }
      const rec = await this.#byId.get(key.slice(key.indexOf('\x00') + 1))
      if (!rec || rec.phase === 'running') continue
      if (!full) {
        if (!nameMatches(q, indexValue(rec))) continue
        if (skip > 0) {
          skip--
          continue
        }
      }
      out.push(rec)
      if (out.length >= limit) break
    }
    return out
  }

  /**
   * How many records match `q`, reading index entries only (no record, unless an entry predates
   * the name in the index). `complete` is false when it stopped after `MAX_SCAN` entries.
   */
  async countMatching(q: ActivationQuery = {}): Promise<{ count: number; complete: boolean }> {
    let count = 0
    let seen = 0
    for await (const [key, full] of this.#scan(q)) {
      seen++
      let name = full
      if (!name) {
        // An entry that does not name its record: an older one, or a running marker (not counted).
        const rec = await this.#byId.get(key.slice(key.indexOf('\x00') + 1))
        if (!rec || rec.phase === 'running') continue
        name = indexValue(rec)
      }
      if (nameMatches(q, name)) count++
    }
    return { count, complete: seen < this.#maxScan }
  }

  /** The time index, newest first, within `since`/`upto`, bounded by `MAX_SCAN` entries. */
  #scan(q: ActivationQuery) {
    return this.#byTime.iterator({
      reverse: true,
      limit: this.#maxScan,
      ...(q.since !== undefined ? { gte: pad(q.since) } : {}),
      ...(q.upto !== undefined ? { lt: pad(q.upto + 1) } : {}),
    })
  }

  /**
   * Stores replicated records in one batch, each unless the stored one with the same id wins
   * (`compareActivations`: phase, hlc, origin); returns, per record, whether it was written.
   */
  async putManyIfNewer(records: readonly ActivationRecord[]): Promise<boolean[]> {
    for (const r of records) activationRecordSchema.parse(r)
    const stored = records.map((r) => this.#byId.getSync(r.activationId))
    const latest = new Map<string, ActivationRecord>()
    const claimed: string[] = []
    const batch = this.#db.batch()
    const written = records.map((r, i) => {
      const old = latest.get(r.activationId) ?? stored[i]
      if (old && compareActivations(old, r) >= 0) return false
      if (this.#claimNew(r.activationId, old)) claimed.push(r.activationId)
      this.#stage(batch, r, old)
      latest.set(r.activationId, r)
      return true
    })
    try {
      await batch.write()
      this.#count += claimed.length
    } finally {
      for (const id of claimed) this.#pendingNew.delete(id)
    }
    return written
  }

  /** Records whose id lies in [gte, lt), in id order (every record when no range is given). */
  async *scan(range: { gte?: string; lt?: string } = {}): AsyncGenerator<ActivationRecord> {
    for await (const v of this.#byId.values(range)) yield v
  }

  /** Deletes up to `max` records, oldest start first, that started before `before` (any age when omitted); returns them. */
  async deleteOldest(opts: { before?: number; max: number }): Promise<ActivationRecord[]> {
    const range = { limit: opts.max, ...(opts.before !== undefined ? { lt: pad(opts.before) } : {}) }
    const batch = this.#db.batch()
    const out: ActivationRecord[] = []
    for await (const key of this.#byTime.keys(range)) {
      const id = key.slice(key.indexOf('\x00') + 1)
      const rec = await this.#byId.get(id)
      batch.del(key, { sublevel: this.#byTime })
      if (rec && timeKey(rec) === key) {
        batch.del(id, { sublevel: this.#byId })
        if (rec.phase === 'running') batch.del(id, { sublevel: this.#running })
        if (isDeadLetter(rec)) batch.del(id, { sublevel: this.#dead })
        if (pendingCallback(rec)) batch.del(id, { sublevel: this.#callbacks })
        out.push(rec)
      }
    }
    await batch.write()
    this.#count = Math.max(0, this.#count - out.length)
    return out
  }

  /** Records held here, from memory. */
  async count(): Promise<number> {
    return this.#count
  }
}
