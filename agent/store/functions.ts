import { LRUCache } from 'lru-cache'
import { errors } from '../errors.ts'
import type { BlobRepository } from './blobs.ts'
import { BUCKETS, type Db, pad } from './db.ts'
import { compareVersions } from './hlc.ts'
import { KeyedSerial } from './serial.ts'
import { type FunctionRecord, fnPath, functionRecordSchema } from './types.ts'

const versionKey = (r: { namespace: string; name: string; version: number }) =>
  `${fnPath(r.namespace, r.name)}\x00${pad(r.version, 10)}`
const refKey = (hash: string, r: FunctionRecord) => `${hash}\x00${versionKey(r)}`

/** Heads kept in memory (every invocation reads one): enough for every function of a large cluster. */
const HEAD_CACHE_ENTRIES = 10_000
/** `null`: known missing. */
type CachedHead = { record: FunctionRecord | null }

/**
 * Function versions and their heads. Writes that belong together (version, head, blob, refs) go in
 * one batch. Heads are cached in memory (frozen: callers copy, never mutate); every write of a head
 * goes through this class, so the cache is updated after each batch. Writes of one function run one
 * at a time (each reads the head before moving it), so the head only ever moves forward in
 * last-writer-wins order, whatever the interleaving of local writes, pushes and anti-entropy.
 */
export class FunctionRepository {
  readonly #db: Db
  readonly #versions
  readonly #heads
  readonly #blobs: BlobRepository
  readonly #headCache = new LRUCache<string, CachedHead>({ max: HEAD_CACHE_ENTRIES })
  readonly #serial = new KeyedSerial()
  /** Live functions per namespace: counted when the store opens, kept by every move of a head. */
  readonly #live = new Map<string, number>()

  constructor(db: Db, blobs: BlobRepository) {
    this.#db = db
    this.#versions = db.sublevel<string, FunctionRecord>(BUCKETS.functions, { valueEncoding: 'json' })
    this.#heads = db.sublevel<string, FunctionRecord>(BUCKETS.heads, { valueEncoding: 'json' })
    this.#blobs = blobs
  }

  /** Waits until the sublevels are open (versions are read synchronously). */
  async open(): Promise<void> {
    await Promise.all([this.#versions.open(), this.#heads.open()])
    for await (const head of this.#heads.values()) if (!head.deleted) this.#bump(head.namespace, 1)
  }

  /** Live functions of a namespace, from memory (what status shows). */
  liveCount(namespace: string): number {
    return this.#live.get(namespace) ?? 0
  }

  #bump(namespace: string, delta: number): void {
    const n = (this.#live.get(namespace) ?? 0) + delta
    if (n > 0) this.#live.set(namespace, n)
    else this.#live.delete(namespace)
  }

  /** Counts a head moving from `before` to `after`. */
  #moved(before: FunctionRecord | null, after: FunctionRecord): void {
    this.#bump(after.namespace, (after.deleted ? 0 : 1) - (before && !before.deleted ? 1 : 0))
  }

  /** The latest version (tombstones included). */
  async head(namespace: string, name: string): Promise<FunctionRecord | null> {
    const path = fnPath(namespace, name)
    const cached = this.#headCache.get(path)
    if (cached) return cached.record
    const record = (await this.#heads.get(path)) ?? null
    this.#cacheHead(path, record)
    return record
  }

  #cacheHead(path: string, record: FunctionRecord | null): void {
    this.#headCache.set(path, { record: record && deepFreeze(record) })
  }

  /** The latest live version, or null when missing or deleted. */
  async get(namespace: string, name: string): Promise<FunctionRecord | null> {
    const head = await this.head(namespace, name)
    return head && !head.deleted ? head : null
  }

  async getVersion(namespace: string, name: string, version: number): Promise<FunctionRecord | null> {
    return (await this.#versions.get(versionKey({ namespace, name, version }))) ?? null
  }

  async versions(namespace: string, name: string): Promise<FunctionRecord[]> {
    const prefix = `${fnPath(namespace, name)}\x00`
    const out: FunctionRecord[] = []
    for await (const v of this.#versions.values({ gte: prefix, lt: `${fnPath(namespace, name)}\x01` }))
      out.push(v)
    return out
  }

  /** Live functions of a namespace (every namespace when omitted), sorted by name. */
  async list(namespace?: string, opts: { includeDeleted?: boolean } = {}): Promise<FunctionRecord[]> {
    const range = namespace === undefined ? {} : { gte: `${namespace}/`, lt: `${namespace}0` }
    const out: FunctionRecord[] = []
    for await (const v of this.#heads.values(range)) if (opts.includeDeleted || !v.deleted) out.push(v)
    return out
  }

  /**
   * Writes a version (with its code, when given) and moves the head if this version wins by
   * last-writer-wins. Returns whether the head moved. Used for local writes and replicated ones.
   */
  async write(record: FunctionRecord, code?: Uint8Array): Promise<boolean> {
    functionRecordSchema.parse(record)
    const path = fnPath(record.namespace, record.name)
    // The hot case (a forwarded invocation carries the version its target already holds as head).
    const cached = this.#headCache.get(path)?.record
    if (cached && cached.version === record.version && compareVersions(toLww(cached), toLww(record)) >= 0)
      return false
    return this.#serial.run(path, () => this.#write(record, code))
  }

  async #write(record: FunctionRecord, code?: Uint8Array): Promise<boolean> {
    const path = fnPath(record.namespace, record.name)
    const existing = this.#versions.getSync(versionKey(record))
    const head = await this.head(record.namespace, record.name)
    if (existing && compareVersions(toLww(existing), toLww(record)) >= 0) {
      // The version is here already; a head left behind it (by a store written before writes were
      // serialized) moves up to it.
      if (!head || compareVersions(toLww(existing), toLww(head)) <= 0) return false
      await this.#heads.put(path, existing)
      this.#cacheHead(path, structuredClone(existing))
      this.#moved(head, existing)
      return true
    }
    const wins = !head || compareVersions(toLww(record), toLww(head)) > 0
    const batch = this.#db.batch()
    batch.put(versionKey(record), record, { sublevel: this.#versions })
    if (record.codeHash) {
      if (code) batch.put(record.codeHash, code, { sublevel: this.#blobs.level })
      batch.put(refKey(record.codeHash, record), '', { sublevel: this.#blobs.refLevel })
    }
    if (wins) batch.put(path, record, { sublevel: this.#heads })
    // The same version written elsewhere with other code lost to this one: its blob loses this
    // version's reference, and goes when no other version references it.
    const orphan = existing?.codeHash && existing.codeHash !== record.codeHash ? existing.codeHash : null
    if (orphan) batch.del(refKey(orphan, existing!), { sublevel: this.#blobs.refLevel })
    await batch.write()
    if (wins) {
      this.#cacheHead(path, structuredClone(record))
      this.#moved(head, record)
    }
    if (orphan && !(await this.#blobs.isReferenced(orphan))) await this.#blobs.del(orphan)
    return wins
  }

  /**
   * Deletes a function when the tombstone wins over the head by last-writer-wins: it becomes the
   * head, older versions and the code blobs no other function references are removed. Returns
   * whether it won (nothing is written when it did not).
   */
  remove(tombstone: FunctionRecord): Promise<boolean> {
    functionRecordSchema.parse(tombstone)
    return this.#serial.run(fnPath(tombstone.namespace, tombstone.name), async () => {
      const head = await this.head(tombstone.namespace, tombstone.name)
      if (head && compareVersions(toLww(tombstone), toLww(head)) <= 0) return false
      await this.#remove(tombstone)
      return true
    })
  }

  /**
   * Applies a replicated version by last-writer-wins, in one step under the function's lock: a
   * winning tombstone deletes the function, a losing one is kept as a version; a live version
   * older than the tombstone at the head is ignored. Stores `code` when the stored version keeps it.
   */
  merge(record: FunctionRecord, code?: Uint8Array): Promise<void> {
    functionRecordSchema.parse(record)
    return this.#serial.run(fnPath(record.namespace, record.name), async () => {
      const head = await this.head(record.namespace, record.name)
      const wins = !head || compareVersions(toLww(record), toLww(head)) > 0
      if (record.deleted) {
        if (wins) await this.#remove(record)
        else await this.#write(record)
      } else if (!head?.deleted || wins) {
        await this.#write(record, code)
      }
      if (code && record.codeHash && !(await this.#blobs.has(record.codeHash))) {
        const kept = await this.getVersion(record.namespace, record.name, record.version)
        if (kept?.codeHash === record.codeHash) await this.#blobs.put(code, record.codeHash)
      }
    })
  }

  async #remove(tombstone: FunctionRecord): Promise<void> {
    const head = await this.head(tombstone.namespace, tombstone.name)
    const versions = await this.versions(tombstone.namespace, tombstone.name)
    const batch = this.#db.batch()
    for (const v of versions) {
      batch.del(versionKey(v), { sublevel: this.#versions })
      if (v.codeHash) batch.del(refKey(v.codeHash, v), { sublevel: this.#blobs.refLevel })
    }
    batch.put(versionKey(tombstone), tombstone, { sublevel: this.#versions })
    batch.put(fnPath(tombstone.namespace, tombstone.name), tombstone, { sublevel: this.#heads })
    await batch.write()
    this.#cacheHead(fnPath(tombstone.namespace, tombstone.name), structuredClone(tombstone))
    this.#moved(head, tombstone)
    const hashes = new Set(versions.map((v) => v.codeHash).filter((h): h is string => !!h))
    for (const hash of hashes) {
      if (!(await this.#blobs.isReferenced(hash))) await this.#blobs.del(hash)
    }
  }

  /** Every stored version (tombstones included), in key order. */
  async *scanVersions(): AsyncGenerator<FunctionRecord> {
    for await (const v of this.#versions.values()) yield v
  }

  /** Forgets a tombstone (its version and the head) when it is still the head; returns whether it did. */
  purgeTombstone(tombstone: FunctionRecord): Promise<boolean> {
    const path = fnPath(tombstone.namespace, tombstone.name)
    return this.#serial.run(path, async () => {
      const head = await this.head(tombstone.namespace, tombstone.name)
      if (!head?.deleted || compareVersions(toLww(head), toLww(tombstone)) !== 0) return false
      const batch = this.#db.batch()
      batch.del(versionKey(tombstone), { sublevel: this.#versions })
      batch.del(path, { sublevel: this.#heads })
      await batch.write()
      this.#cacheHead(path, null)
      return true
    })
  }

  /** The code of a version, or a clear error when the blob is missing here. */
  async code(record: FunctionRecord): Promise<Buffer | null> {
    if (!record.codeHash) return null
    const code = await this.#blobs.get(record.codeHash)
    if (!code) {
      throw errors.notFound(
        `the code of ${record.name} version ${record.version} (${record.codeHash}) is not on this node`,
      )
    }
    return code
  }
}

function toLww(r: FunctionRecord) {
  return { hlc: r.updated, origin: r.origin }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o)
    for (const v of Object.values(o)) deepFreeze(v)
  }
  return o
}
