import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import { errors } from '../errors.ts'
import { BUCKETS, type Db } from './db.ts'
import { formatHlc, isHlc } from './hlc.ts'
import { LwwTable } from './lww-table.ts'
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
  readonly #table: LwwTable<ApiKeyRecord>

  constructor(db: Db) {
    this.#table = new LwwTable<ApiKeyRecord>(db, BUCKETS.apiKeys, (r) => r.uuid, upgrade)
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
    await this.#table.put(record)
    return { info: toInfo(record), auth: `${uuid}:${key}`, record }
  }

  async list(): Promise<ApiKeyInfo[]> {
    return (await this.#table.all()).sort((a, b) => a.created - b.created).map(toInfo)
  }

  /** Every record (for anti-entropy). */
  records(): Promise<ApiKeyRecord[]> {
    return this.#table.all()
  }

  record(uuid: string): Promise<ApiKeyRecord | null> {
    return this.#table.get(uuid)
  }

  /** Whether any key (revoked or not) belongs to `namespace`. */
  async hasNamespace(namespace: string): Promise<boolean> {
    return (await this.#table.all()).some((r) => r.namespace === namespace)
  }

  async revoke(uuid: string, stamp: Stamp): Promise<{ info: ApiKeyInfo; record: ApiKeyRecord }> {
    const rec = await this.#table.get(uuid)
    if (!rec) throw errors.notFound(`API key ${uuid} does not exist; list keys with 'fnagent auth list'`)
    const revoked = { ...rec, revoked: rec.revoked ?? Date.now(), updated: stamp.hlc, origin: stamp.origin }
    await this.#table.put(revoked)
    return { info: toInfo(revoked), record: revoked }
  }

  /** Applies a replicated copy by last-writer-wins; returns whether it replaced what was here. */
  merge(record: ApiKeyRecord): Promise<boolean> {
    apiKeyRecordSchema.parse(record)
    // A revocation is final: a stale copy without it never un-revokes a key.
    return this.#table.merge(record, (w, here) =>
      here.revoked && !w.revoked ? { ...w, revoked: here.revoked } : w,
    )
  }

  /** Who a valid, unrevoked `uuid:key` is, else null. Compares in constant time. */
  async verify(uuid: string, key: string): Promise<ApiKeySubject | null> {
    if (!UUID_RE.test(uuid)) return null
    const rec = await this.#table.get(uuid)
    if (!rec || rec.revoked) return null
    const want = Buffer.from(rec.keyHash, 'hex')
    const got = hashKey(rec.salt, key)
    return want.length === got.length && timingSafeEqual(want, got)
      ? { uuid, namespace: rec.namespace }
      : null
  }
}

function toInfo(rec: ApiKeyRecord): ApiKeyInfo {
  const { keyHash: _h, salt: _s, updated: _u, origin: _o, ...info } = rec
  return info
}
