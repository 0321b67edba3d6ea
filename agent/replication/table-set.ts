import { createHash } from 'node:crypto'
import type { HybridClock } from '../store/hlc.ts'
import type { ApiKeyRecord, EventRecord, NamespaceRecord, PackageRecord, Store } from '../store/index.ts'
import {
  apiKeyRecordSchema,
  eventId,
  eventRecordSchema,
  packageId,
  packageRecordSchema,
} from '../store/index.ts'
import { type LwwRecord, lwwOf } from '../store/lww-table.ts'
import { LeafTable, versionOf } from './digest.ts'
import type { SyncSet } from './digest-sync.ts'
import type { ApplyOutcome } from './function-set.ts'
import type { Kind } from './messages.ts'
import type { ReplicationStats } from './stats.ts'

/** One hex digit: these tables are small (16 leaves). */
export const TABLE_DEPTH = 1
const leafOf = (id: string) => createHash('sha256').update(id).digest('hex').slice(0, TABLE_DEPTH)

/** A small table every node holds whole, as anti-entropy sees it. */
export interface TableSource<R extends LwwRecord> {
  kind: Extract<Kind, 'key' | 'pkg' | 'ns' | 'evt'>
  all(): Promise<R[]>
  get(id: string): Promise<R | null>
  /** Validates and stores by last-writer-wins; whether it replaced the copy here. */
  merge(record: R): Promise<boolean>
  idOf(record: R): string
}

export function keySource(store: Store): TableSource<ApiKeyRecord> {
  return {
    kind: 'key',
    all: () => store.apiKeys.records(),
    get: (id) => store.apiKeys.record(id),
    merge: (r) => store.apiKeys.merge(apiKeyRecordSchema.parse(r)),
    idOf: (r) => r.uuid,
  }
}

export function packageSource(store: Store): TableSource<PackageRecord> {
  return {
    kind: 'pkg',
    all: () => store.packages.table.all(),
    get: (id) => store.packages.table.get(id),
    merge: (r) => store.packages.merge(packageRecordSchema.parse(r)),
    idOf: packageId,
  }
}

export function eventSource(store: Store): TableSource<EventRecord> {
  return {
    kind: 'evt',
    all: () => store.events.table.all(),
    get: (id) => store.events.table.get(id),
    merge: (r) => store.events.merge(eventRecordSchema.parse(r)),
    idOf: eventId,
  }
}

export function namespaceSource(store: Store): TableSource<NamespaceRecord> {
  return {
    kind: 'ns',
    all: () => store.namespaces.table.all(),
    get: (id) => store.namespaces.get(id),
    merge: (r) => store.namespaces.merge(r),
    idOf: (r) => r.namespace,
  }
}

/**
 * A table held whole by every node (API keys, packages): every leaf is shared. Rebuilt from the
 * table after each change (the tables are small and cached in memory).
 */
export class TableSet<R extends LwwRecord> {
  readonly #source: TableSource<R>
  readonly #clock: HybridClock
  #table: LeafTable | null = null
  #entries = new Map<string, Map<string, string>>()

  constructor(source: TableSource<R>, clock: HybridClock) {
    this.#source = source
    this.#clock = clock
  }

  get kind() {
    return this.#source.kind
  }

  changed(): void {
    this.#table = null
  }

  async table(): Promise<LeafTable> {
    if (this.#table) return this.#table
    const table = new LeafTable()
    const entries = new Map<string, Map<string, string>>()
    for (const r of await this.#source.all()) {
      const id = this.#source.idOf(r)
      const v = versionOf(lwwOf(r))
      table.toggle(leafOf(id), id, v)
      const m = entries.get(leafOf(id)) ?? new Map<string, string>()
      entries.set(leafOf(id), m)
      m.set(id, v)
    }
    this.#entries = entries
    this.#table = table
    return table
  }

  async entries(leaves: readonly string[]): Promise<Map<string, Map<string, string>>> {
    await this.table()
    return new Map(leaves.map((l) => [l, this.#entries.get(l) ?? new Map()]))
  }

  async get(ids: readonly string[]): Promise<R[]> {
    const out: R[] = []
    for (const id of ids) {
      const r = await this.#source.get(id)
      if (r) out.push(r)
    }
    return out
  }

  /** Stores a replicated copy by last-writer-wins; one stamped too far ahead is refused (`future`). */
  async apply(record: R): Promise<ApplyOutcome> {
    if (this.#clock.tooFarAhead(record.updated)) return 'future'
    if (await this.#source.merge(record)) this.changed()
    return 'applied'
  }
}

/** A whole-table set as digest sync drives it; `field` names its records in pushes and answers. */
export function tableSync<R extends LwwRecord>(
  set: TableSet<R>,
  stats: ReplicationStats,
  field: 'keys' | 'packages' | 'namespaces' | 'events',
): SyncSet<R> {
  return {
    kind: set.kind,
    depth: TABLE_DEPTH,
    table: () => set.table(),
    include: () => true,
    entries: (leaves) => set.entries(leaves),
    get: (ids) => set.get(ids),
    apply: async (records) => {
      for (const r of records) {
        const outcome = await set.apply(r)
        if (outcome !== 'applied') stats.drop(outcome)
      }
    },
    received: (answer) => answer[field] as unknown as R[],
    leafOf,
    pushBody: (records) => ({ functions: [], activations: [], [field]: records }),
  }
}
