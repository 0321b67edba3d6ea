import { ActivationRepository } from './activations.ts'
import { ApiKeyRepository } from './api-keys.ts'
import { BlobRepository } from './blobs.ts'
import { type Db, openDb } from './db.ts'
import { EventRepository } from './events.ts'
import { FunctionRepository } from './functions.ts'
import { NamespaceRepository } from './namespaces.ts'
import { PackageRepository } from './packages.ts'
import { PeerRepository } from './peers.ts'

export { type ActivationQuery, ActivationRepository, MAX_SCAN } from './activations.ts'
export {
  type ApiKeyInfo,
  type ApiKeyRecord,
  ApiKeyRepository,
  type ApiKeySubject,
  apiKeyRecordSchema,
} from './api-keys.ts'
export { sha256 } from './blobs.ts'
export { BUCKETS, type Db } from './db.ts'
export {
  type AlarmRecord,
  alarmRecordSchema,
  type EventRecord,
  eventId,
  eventRecordSchema,
  type RuleRecord,
  ruleRecordSchema,
  type TriggerRecord,
  triggerRecordSchema,
} from './events.ts'
export {
  type NamespaceLimits,
  type NamespaceRecord,
  namespaceLimitsSchema,
  namespaceRecordSchema,
} from './namespaces.ts'
export { type PackageRecord, packageId, packageRecordSchema } from './packages.ts'
export type { PeerEntry } from './peers.ts'
export { deriveSecretsKey, REDACTED, SecretBox, showSecrets } from './secrets.ts'
export * from './types.ts'

/** The agent's LevelDB and its typed repositories. */
export class Store {
  readonly db: Db
  readonly functions: FunctionRepository
  readonly blobs: BlobRepository
  readonly activations: ActivationRepository
  readonly peers: PeerRepository
  readonly apiKeys: ApiKeyRepository
  readonly packages: PackageRepository
  readonly namespaces: NamespaceRepository
  readonly events: EventRepository

  private constructor(db: Db) {
    this.db = db
    this.blobs = new BlobRepository(db)
    this.functions = new FunctionRepository(db, this.blobs)
    this.activations = new ActivationRepository(db)
    this.peers = new PeerRepository(db)
    this.apiKeys = new ApiKeyRepository(db)
    this.packages = new PackageRepository(db)
    this.namespaces = new NamespaceRepository(db)
    this.events = new EventRepository(db)
  }

  static async open(dataDir: string): Promise<Store> {
    const store = new Store(await openDb(dataDir))
    // A sublevel opens a tick after it is made; the synchronous reads (`getSync`) need it open.
    await Promise.all([store.functions.open(), store.activations.open()])
    return store
  }

  async close(): Promise<void> {
    if (this.db.status === 'open' || this.db.status === 'opening') await this.db.close()
  }
}
