import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import { errors } from '../errors.ts'
import { BUCKETS, type Db } from './db.ts'
import { compareVersions, formatHlc, isHlc } from './hlc.ts'
import { DEFAULT_NAMESPACE, NAMESPACE_RE } from './types.ts'

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * What is stored and replicated per key: never the key itself, only a salted sha256 of it. A key
 * belongs to one namespace (OpenWhisk's subject/namespace). `updated`/`origin` order two copies by
 * last-writer-wins (a revocation is the newer copy).
 */
export const apiKeyRecordSchema = z
  .object({
    uuid: z.string().regex(UUID_RE),
    keyHash: z.string().regex(/^[0-9a-f]{64}$/),
    salt: z.string().regex(/^[0-9a-f]{32}$/),
    namespace: z.string().regex(NAMESPACE_RE),
    description: z.string().max(200).optional(),
    created: z.number().int().nonnegative(),
    revoked: z.number().int().nonnegative().optional(),
    updated: z.string().refine(isHlc, 'an HLC timestamp'),
    origin: z.string().min(1).max(128),
  })
  .strict()
export type ApiKeyRecord = z.infer<typeof apiKeyRecordSchema>

/** What `auth list` shows. */
export type ApiKeyInfo = Omit<ApiKeyRecord, 'keyHash' | 'salt' | 'updated' | 'origin'>

/** Who a valid key is. */
export interface ApiKeySubject {
  uuid: string
  namespace: string
}

/** The stamp of a local write: this node's clock and id. */
export interface Stamp {
  hlc: string
  origin: string
}

function hashKey(salt: string, key: string): Buffer {
  return createHash('sha256').update(salt).update('\x00').update(key).digest()
}

/** A record written before keys had namespaces and stamps (one node's own keys). */
function upgrade(rec: Partial<ApiKeyRecord> & { uuid: string; created: number }): ApiKeyRecord {
  return {
    namespace: DEFAULT_NAMESPACE,
    updated: formatHlc(rec.revoked ?? rec.created, 0),
    origin: 'local',
    ...rec,
  } as ApiKeyRecord
}

/**
 * OpenWhisk API keys (`uuid:key`, the key 64 random characters) in the `apikey` bucket, replicated
 * to every node (agent/replication/key-set.ts) so that a key made on one node works on all. The
 * keys are 384-bit random values, so a salted sha256 is enough (no password stretching needed), and
 * verification on every request stays cheap. Records are cached in memory; every write (local or
 * replicated) goes through this class.
 */
export class ApiKeyRepository {
  readonly #db
  #cache: Map<string, ApiKeyRecord> | null = null

  constructor(db: Db) {
    this.#db = db.sublevel<string, ApiKeyRecord>(BUCKETS.apiKeys, { valueEncoding: 'json' })
  }

  async #all(): Promise<Map<string, ApiKeyRecord>> {
    if (this.#cache) return this.#cache
    const map = new Map<string, ApiKeyRecord>()
    for await (const [uuid, rec] of this.#db.iterator()) map.set(uuid, upgrade(rec))
    this.#cache = map
    return map
  }

  /** Creates a key in `namespace`; the plain `uuid:key` is returned once and never stored. */
  async create(
    opts: { namespace: string; description?: string | undefined },
    stamp: Stamp,
  ): Promise<{ info: ApiKeyInfo; auth: string; record: ApiKeyRecord }> {
    const uuid = randomUUID()
    const key = randomBytes(48).toString('base64url')
    const salt = randomBytes(16).toString('hex')
    const record: ApiKeyRecord = apiKeyRecordSchema.parse({
      uuid,
      keyHash: hashKey(salt, key).toString('hex'),
      salt,
      namespace: opts.namespace,
      created: Date.now(),
      ...(opts.description ? { description: opts.description } : {}),
      updated: stamp.hlc,
      origin: stamp.origin,
    })
    await this.#put(record)
    return { info: toInfo(record), auth: `${uuid}:${key}`, record }
  }

  async list(): Promise<ApiKeyInfo[]> {
    return [...(await this.#all()).values()].sort((a, b) => a.created - b.created).map(toInfo)
  }

  /** Every record (for anti-entropy). */
  async records(): Promise<ApiKeyRecord[]> {
    return [...(await this.#all()).values()]
  }

  async record(uuid: string): Promise<ApiKeyRecord | null> {
    return (await this.#all()).get(uuid) ?? null
  }

  /** Whether any key (revoked or not) belongs to `namespace`. */
  async hasNamespace(namespace: string): Promise<boolean> {
    for (const r of (await this.#all()).values()) if (r.namespace === namespace) return true
    return false
  }

  /** Namespaces that have keys. */
  async namespaces(): Promise<string[]> {
    return [...new Set([...(await this.#all()).values()].map((r) => r.namespace))].sort()
  }

  async revoke(uuid: string, stamp: Stamp): Promise<{ info: ApiKeyInfo; record: ApiKeyRecord }> {
    const rec = (await this.#all()).get(uuid)
    if (!rec) throw errors.notFound(`API key ${uuid} does not exist; list keys with 'fnagent auth list'`)
    const revoked = { ...rec, revoked: rec.revoked ?? Date.now(), updated: stamp.hlc, origin: stamp.origin }
    await this.#put(revoked)
    return { info: toInfo(revoked), record: revoked }
  }

  /** Applies a replicated copy by last-writer-wins; returns whether it replaced what was here. */
  async merge(record: ApiKeyRecord): Promise<boolean> {
    apiKeyRecordSchema.parse(record)
    const here = (await this.#all()).get(record.uuid)
    if (here && compareVersions(lww(record), lww(here)) <= 0) return false
    // A revocation is final: a stale copy without it never un-revokes a key.
    const kept = here?.revoked && !record.revoked ? { ...record, revoked: here.revoked } : record
    await this.#put(kept)
    return true
  }

  async #put(record: ApiKeyRecord): Promise<void> {
    await this.#db.put(record.uuid, record)
    ;(await this.#all()).set(record.uuid, record)
  }

  /** Who a valid, unrevoked `uuid:key` is, else null. Compares in constant time. */
  async verify(uuid: string, key: string): Promise<ApiKeySubject | null> {
    if (!UUID_RE.test(uuid)) return null
    const rec = (await this.#all()).get(uuid)
    if (!rec || rec.revoked) return null
    const want = Buffer.from(rec.keyHash, 'hex')
    const got = hashKey(rec.salt, key)
    return want.length === got.length && timingSafeEqual(want, got)
      ? { uuid, namespace: rec.namespace }
      : null
  }
}

export function apiKeyLww(r: ApiKeyRecord): Stamp {
  return lww(r)
}

function lww(r: ApiKeyRecord): Stamp {
  return { hlc: r.updated, origin: r.origin }
}

function toInfo(rec: ApiKeyRecord): ApiKeyInfo {
  const { keyHash: _h, salt: _s, updated: _u, origin: _o, ...info } = rec
  return info
}
