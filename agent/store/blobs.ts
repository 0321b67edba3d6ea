import { createHash } from 'node:crypto'
import type { AbstractSublevel } from 'abstract-level'
import { LRUCache } from 'lru-cache'
import { BUCKETS, type Db } from './db.ts'

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

type BlobLevel = AbstractSublevel<Db, string | Uint8Array | Buffer, string, Uint8Array>

/** Code read by invocations stays in memory up to this many bytes (blobs over a quarter of it never). */
const CODE_CACHE_BYTES = 8 * 1024 * 1024

/**
 * Content-addressed code blobs. A blob is kept while any function version references it. Blobs
 * read recently are cached in memory (content-addressed, so a cached blob can only go stale by
 * being deleted, which goes through `del`).
 */
export class BlobRepository {
  readonly #blobs: BlobLevel
  readonly #refs: AbstractSublevel<Db, string | Uint8Array | Buffer, string, string>
  readonly #cache = new LRUCache<string, Buffer>({
    maxSize: CODE_CACHE_BYTES,
    maxEntrySize: CODE_CACHE_BYTES / 4,
    sizeCalculation: (b) => Math.max(1, b.byteLength),
  })

  constructor(db: Db) {
    this.#blobs = db.sublevel<string, Uint8Array>(BUCKETS.blobs, { valueEncoding: 'view' })
    this.#refs = db.sublevel<string, string>(BUCKETS.blobRefs, { valueEncoding: 'utf8' })
  }

  get level(): BlobLevel {
    return this.#blobs
  }

  get refLevel() {
    return this.#refs
  }

  async get(hash: string): Promise<Buffer | null> {
    const cached = this.#cache.get(hash)
    if (cached) return cached
    const v = await this.#blobs.get(hash)
    if (v === undefined) return null
    const buf = Buffer.from(v.buffer, v.byteOffset, v.byteLength)
    this.#cache.set(hash, buf)
    return buf
  }

  async has(hash: string): Promise<boolean> {
    return this.#cache.has(hash) || (await this.#blobs.get(hash)) !== undefined
  }

  async del(hash: string): Promise<void> {
    this.#cache.delete(hash)
    await this.#blobs.del(hash)
  }

  /** Stores bytes under their own hash (verifying `expected` when given); returns the hash. */
  async put(data: Uint8Array, expected?: string): Promise<string> {
    const hash = sha256(data)
    if (expected !== undefined && expected !== hash) {
      throw new Error(`blob hash mismatch: expected ${expected}, got ${hash}`)
    }
    await this.#blobs.put(hash, data)
    return hash
  }

  async isReferenced(hash: string): Promise<boolean> {
    for await (const _ of this.#refs.keys({ gte: `${hash}\x00`, lt: `${hash}\x01`, limit: 1 })) return true
    return false
  }

  /** Hashes of every stored blob (bounded by `limit`). */
  async list(limit = 10_000): Promise<string[]> {
    const out: string[] = []
    for await (const k of this.#blobs.keys({ limit })) out.push(k)
    return out
  }
}
