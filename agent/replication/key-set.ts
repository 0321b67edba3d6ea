import { apiKeyLww } from '../store/api-keys.ts'
import type { HybridClock } from '../store/hlc.ts'
import { type ApiKeyRecord, apiKeyRecordSchema, type Store } from '../store/index.ts'
import { LeafTable, versionOf } from './digest.ts'
import type { SyncSet } from './digest-sync.ts'
import type { ApplyOutcome } from './function-set.ts'
import type { ReplicationStats } from './stats.ts'

/** One hex digit: a cluster has few keys (one leaf per first digit of the uuid). */
export const KEY_DEPTH = 1
const leafOf = (uuid: string) => uuid.slice(0, KEY_DEPTH)

/**
 * API keys (their hashes) as anti-entropy sees them: every node holds every key, so a key made on
 * one node authenticates on all, and a revocation reaches all. Small: rebuilt after each change.
 */
export class KeySet {
  readonly #store: Store
  readonly #clock: HybridClock
  #table: LeafTable | null = null
  #entries = new Map<string, Map<string, string>>()

  constructor(store: Store, clock: HybridClock) {
    this.#store = store
    this.#clock = clock
  }

  changed(): void {
    this.#table = null
  }

  async table(): Promise<LeafTable> {
    if (this.#table) return this.#table
    const table = new LeafTable()
    const entries = new Map<string, Map<string, string>>()
    for (const r of await this.#store.apiKeys.records()) {
      const v = versionOf(apiKeyLww(r))
      table.toggle(leafOf(r.uuid), r.uuid, v)
      const m = entries.get(leafOf(r.uuid)) ?? new Map<string, string>()
      entries.set(leafOf(r.uuid), m)
      m.set(r.uuid, v)
    }
    this.#entries = entries
    this.#table = table
    return table
  }

  async entries(leaves: readonly string[]): Promise<Map<string, Map<string, string>>> {
    await this.table()
    return new Map(leaves.map((l) => [l, this.#entries.get(l) ?? new Map()]))
  }

  async get(uuids: readonly string[]): Promise<ApiKeyRecord[]> {
    const out: ApiKeyRecord[] = []
    for (const uuid of uuids) {
      const r = await this.#store.apiKeys.record(uuid)
      if (r) out.push(r)
    }
    return out
  }

  /** Stores a replicated key by last-writer-wins; one stamped too far ahead is refused (`future`). */
  async apply(record: ApiKeyRecord): Promise<ApplyOutcome> {
    apiKeyRecordSchema.parse(record)
    if (this.#clock.tooFarAhead(record.updated)) return 'future'
    if (await this.#store.apiKeys.merge(record)) this.changed()
    return 'applied'
  }
}

/** API keys: every node holds every key, so every leaf is shared. */
export function keySync(keySet: KeySet, stats: ReplicationStats): SyncSet<ApiKeyRecord> {
  return {
    kind: 'key',
    depth: KEY_DEPTH,
    table: () => keySet.table(),
    include: () => true,
    entries: (leaves) => keySet.entries(leaves),
    get: (uuids) => keySet.get(uuids),
    apply: async (records) => {
      for (const r of records) {
        const outcome = await keySet.apply(r)
        if (outcome !== 'applied') stats.drop(outcome)
      }
    },
    received: (answer) => answer.keys,
    leafOf,
    pushBody: (records) => ({ functions: [], activations: [], keys: records }),
  }
}
