import {
  type ActivationRecord,
  type ApiKeyRecord,
  type EventRecord,
  type FunctionRecord,
  type NamespaceRecord,
  type PackageRecord,
  type Store,
  sha256,
} from '../store/index.ts'
import type { ActivationSet } from './activation-set.ts'
import type { SyncSet } from './digest-sync.ts'
import type { FunctionSet } from './function-set.ts'
import type { RequestOf } from './messages.ts'
import type { ReplicationStats } from './stats.ts'
import type { TableSet } from './table-set.ts'
import { Dropped } from './wire.ts'

export interface ReplicationHandlersComponents {
  store: Store
  stats: ReplicationStats
  fnSet: FunctionSet
  actSet: ActivationSet
  keySet: TableSet<ApiKeyRecord>
  pkgSet: TableSet<PackageRecord>
  nsSet: TableSet<NamespaceRecord>
  evtSet: TableSet<EventRecord>
  sets: {
    fn: SyncSet<FunctionRecord>
    act: SyncSet<ActivationRecord>
    key: SyncSet<ApiKeyRecord>
    pkg: SyncSet<PackageRecord>
    ns: SyncSet<NamespaceRecord>
    evt: SyncSet<EventRecord>
  }
  maxMessageBytes: number
}

/** The answering side of `/fnagent/repl/1.1.0` (requests arrive validated; see wire.ts). */
export class ReplicationHandlers {
  readonly #d: ReplicationHandlersComponents

  constructor(components: ReplicationHandlersComponents) {
    this.#d = components
  }

  /** Applies pushed records. Every code blob is checked against its hash first: one bad blob refuses all. */
  async push(req: RequestOf<'push'>) {
    const codes = req.functions.map(({ record, code }) => {
      if (code === undefined) return undefined
      const data = Buffer.from(code, 'base64')
      if (!record.codeHash || sha256(data) !== record.codeHash) {
        throw new Dropped(
          'badHash',
          `the code sent for ${record.name} v${record.version} does not match its hash`,
        )
      }
      return data
    })
    const functions: boolean[] = []
    for (const [i, { record }] of req.functions.entries()) {
      const code = codes[i]
      const outcome = await this.#d.fnSet.apply(record, code)
      if (outcome !== 'applied') this.#d.stats.drop(outcome)
      // A record refused as from the future is not held: the sender's push is not confirmed.
      functions.push(
        outcome !== 'future' && (code === undefined || (await this.#d.store.blobs.has(record.codeHash!))),
      )
    }
    const outcomes = await this.#d.actSet.applyMany(req.activations)
    for (const o of outcomes) if (o !== 'applied') this.#d.stats.drop(o)
    const keys = await this.#applyTable(this.#d.keySet, req.keys ?? [])
    const packages = await this.#applyTable(this.#d.pkgSet, req.packages ?? [])
    const namespaces = await this.#applyTable(this.#d.nsSet, req.namespaces ?? [])
    const events = await this.#applyTable(this.#d.evtSet, req.events ?? [])
    const activations = outcomes.map((o) => o !== 'future')
    return { type: 'ack', functions, activations, keys, packages, namespaces, events }
  }

  async #applyTable<R extends ApiKeyRecord | PackageRecord | NamespaceRecord | EventRecord>(
    set: TableSet<R>,
    records: R[],
  ): Promise<boolean[]> {
    const held: boolean[] = []
    for (const record of records) {
      const outcome = await set.apply(record)
      if (outcome !== 'applied') this.#d.stats.drop(outcome)
      held.push(outcome !== 'future')
    }
    return held
  }

  async tree(req: RequestOf<'tree'>, from: string) {
    const set = this.#d.sets[req.kind]
    const table = await set.table()
    const hashes =
      req.prefixes.length > 0 ? table.children(req.prefixes, (leaf) => set.include(leaf, from)) : {}
    for (const leaf of req.leaves) {
      const h = table.leaf(leaf)
      if (h !== '0'.repeat(32)) hashes[leaf] = h
    }
    return { type: 'tree', hashes }
  }

  async entries(req: RequestOf<'entries'>) {
    const limit = this.#d.maxMessageBytes / 4
    const entries: Record<string, Array<[string, string]>> = {}
    const truncated: string[] = []
    let bytes = 0
    for (const leaf of req.leaves) {
      if (bytes > limit) {
        truncated.push(leaf)
        continue
      }
      const list = [...((await this.#d.sets[req.kind].entries([leaf])).get(leaf) ?? new Map())]
      entries[leaf] = list
      for (const [k, v] of list) bytes += k.length + v.length + 8
    }
    return { type: 'entries', entries, truncated }
  }

  async get(req: RequestOf<'get'>) {
    const limit = Math.min(req.maxBytes, this.#d.maxMessageBytes / 2)
    const records: unknown[] = []
    let bytes = 0
    let served = 0
    for (const key of req.keys) {
      if (bytes > 0 && bytes >= limit) break
      served++
      const [r] = await this.#d.sets[req.kind].get([key])
      if (!r) continue
      records.push(r)
      bytes += JSON.stringify(r).length
    }
    const of = (kind: string) => (req.kind === kind ? records : [])
    return {
      type: 'records',
      served,
      functions: of('fn'),
      activations: of('act'),
      keys: of('key'),
      packages: of('pkg'),
      namespaces: of('ns'),
      events: of('evt'),
    }
  }

  async blob(req: RequestOf<'blob'>) {
    const data = await this.#d.store.blobs.get(req.hash)
    return { type: 'blob', data: data ? data.toString('base64') : null }
  }

  async activation(req: RequestOf<'activation'>) {
    return { type: 'activation', record: await this.#d.store.activations.get(req.id) }
  }

  async list(req: RequestOf<'list'>) {
    return { type: 'list', records: await this.#d.store.activations.list({ ...req.query, skip: 0 }) }
  }
}
