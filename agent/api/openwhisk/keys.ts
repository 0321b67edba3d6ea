import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { errors } from '../../errors.ts'
import { BUCKETS, type Db } from '../../store/index.ts'

/** What is stored per key: never the key itself, only a salted sha256 of it. */
export interface ApiKeyRecord {
  uuid: string
  keyHash: string
  salt: string
  description?: string
  created: number
  revoked?: number
}

/** What `auth list` shows. */
export type ApiKeyInfo = Omit<ApiKeyRecord, 'keyHash' | 'salt'>

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function hashKey(salt: string, key: string): Buffer {
  return createHash('sha256').update(salt).update('\x00').update(key).digest()
}

/**
 * OpenWhisk API keys (`uuid:key`, the key 64 random characters) in the `apikey` bucket. The keys
 * are 384-bit random values, so a salted sha256 is enough (no password stretching needed), and
 * verification on every request stays cheap. Records are cached in memory; this agent is the
 * only writer of its own database.
 */
export class ApiKeyStore {
  readonly #db
  #cache: Map<string, ApiKeyRecord> | null = null

  constructor(db: Db) {
    this.#db = db.sublevel<string, ApiKeyRecord>(BUCKETS.apiKeys, { valueEncoding: 'json' })
  }

  async #all(): Promise<Map<string, ApiKeyRecord>> {
    if (this.#cache) return this.#cache
    const map = new Map<string, ApiKeyRecord>()
    for await (const [uuid, rec] of this.#db.iterator()) map.set(uuid, rec)
    this.#cache = map
    return map
  }

  /** Creates a key; the plain `uuid:key` is returned once and never stored. */
  async create(description?: string): Promise<{ info: ApiKeyInfo; auth: string }> {
    const uuid = randomUUID()
    const key = randomBytes(48).toString('base64url')
    const salt = randomBytes(16).toString('hex')
    const rec: ApiKeyRecord = {
      uuid,
      keyHash: hashKey(salt, key).toString('hex'),
      salt,
      created: Date.now(),
      ...(description ? { description } : {}),
    }
    await this.#db.put(uuid, rec)
    ;(await this.#all()).set(uuid, rec)
    return { info: toInfo(rec), auth: `${uuid}:${key}` }
  }

  async list(): Promise<ApiKeyInfo[]> {
    return [...(await this.#all()).values()].sort((a, b) => a.created - b.created).map(toInfo)
  }

  async revoke(uuid: string): Promise<ApiKeyInfo> {
    const rec = (await this.#all()).get(uuid)
    if (!rec) throw errors.notFound(`API key ${uuid} does not exist; list keys with 'fnagent auth list'`)
    const revoked = { ...rec, revoked: rec.revoked ?? Date.now() }
    await this.#db.put(uuid, revoked)
    ;(await this.#all()).set(uuid, revoked)
    return toInfo(revoked)
  }

  /** The uuid of a valid, unrevoked `uuid:key`, else null. Compares in constant time. */
  async verify(uuid: string, key: string): Promise<string | null> {
    if (!UUID_RE.test(uuid)) return null
    const rec = (await this.#all()).get(uuid)
    if (!rec || rec.revoked) return null
    const want = Buffer.from(rec.keyHash, 'hex')
    const got = hashKey(rec.salt, key)
    return want.length === got.length && timingSafeEqual(want, got) ? uuid : null
  }
}

function toInfo(rec: ApiKeyRecord): ApiKeyInfo {
  const { keyHash: _h, salt: _s, ...info } = rec
  return info
}
