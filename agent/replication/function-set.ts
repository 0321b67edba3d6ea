import { createHash } from 'node:crypto'
import { compareVersions, type HybridClock, hlcWall } from '../store/hlc.ts'
import type { FunctionRecord, Store } from '../store/index.ts'
import { LeafTable, versionOf } from './digest.ts'

const REBUILD_MS = 60_000

/** What became of a replicated record: stored (or already superseded here), or refused and why. */
export type ApplyOutcome = 'applied' | 'expired' | 'future'

/** Last-writer-wins order of two function versions. */
export function compareFn(a: FunctionRecord, b: FunctionRecord): number {
  return compareVersions({ hlc: a.updated, origin: a.origin }, { hlc: b.updated, origin: b.origin })
}

const headKey = (r: FunctionRecord) => `h\0${r.namespace}\0${r.name}`
const versionKey = (r: FunctionRecord) => `v\0${r.namespace}\0${r.name}\0${r.version}`
export const FN_DEPTH = 2
const leafOfPath = (ns: string, name: string) =>
  createHash('sha256').update(`${ns}/${name}`).digest('hex').slice(0, FN_DEPTH)
const leafOf = (r: FunctionRecord) => leafOfPath(r.namespace, r.name)

/** The digest leaf of an entry key (`h\0ns\0name` or `v\0ns\0name\0version`). */
export function fnLeafOfKey(key: string): string {
  const [, ns = '', name = ''] = key.split('\0')
  return leafOfPath(ns, name)
}

/**
 * Function metadata as anti-entropy sees it: every version and every head, on every node. Small
 * enough to rebuild from the store after a change (and at least once a minute).
 */
export class FunctionSet {
  readonly #store: Store
  readonly #graceMs: () => number
  readonly #clock: HybridClock
  #table = new LeafTable()
  #entries = new Map<string, Map<string, string>>()
  #hashes = new Set<string>()
  #builtAt = 0
  #dirty = true
  #building: Promise<void> | null = null
  #serial: Promise<unknown> = Promise.resolve()

  constructor(store: Store, graceMs: () => number, clock: HybridClock) {
    this.#store = store
    this.#graceMs = graceMs
    this.#clock = clock
  }

  changed(): void {
    this.#dirty = true
  }

  async table(): Promise<LeafTable> {
    await this.#fresh()
    return this.#table
  }

  /** Code hashes referenced by live (not deleted) versions. */
  async referencedHashes(): Promise<Set<string>> {
    await this.#fresh()
    return this.#hashes
  }

  async entries(leaves: readonly string[]): Promise<Map<string, Map<string, string>>> {
    await this.#fresh()
    return new Map(leaves.map((l) => [l, this.#entries.get(l) ?? new Map()]))
  }

  async get(keys: readonly string[]): Promise<FunctionRecord[]> {
    const out: FunctionRecord[] = []
    for (const key of keys) {
      const [t, ns = '', name = '', version] = key.split('\0')
      const r =
        t === 'h'
          ? await this.#store.functions.head(ns, name)
          : await this.#store.functions.getVersion(ns, name, Number(version))
      if (r) out.push(r)
    }
    return out
  }

  /**
   * Applies a replicated version by last-writer-wins (FunctionRepository.merge). Refuses a tombstone
   * past its grace period ('expired') and a record stamped more than the clock's max drift ahead of
   * this node's clock ('future': anti-entropy offers it again, and it is taken once it is not).
   */
  apply(record: FunctionRecord, code?: Buffer): Promise<ApplyOutcome> {
    // One at a time: a version's write reads the head first.
    const next = this.#serial.then(() => this.#apply(record, code))
    this.#serial = next.catch(() => {})
    return next
  }

  async #apply(record: FunctionRecord, code?: Buffer): Promise<ApplyOutcome> {
    if (this.#clock.tooFarAhead(record.updated)) return 'future'
    if (record.deleted && hlcWall(record.updated) < Date.now() - this.#graceMs()) return 'expired'
    await this.#store.functions.merge(record, code)
    this.#dirty = true
    return 'applied'
  }

  async #fresh(): Promise<void> {
    while (this.#dirty || Date.now() - this.#builtAt > REBUILD_MS) {
      this.#building ??= this.#build().finally(() => {
        this.#building = null
      })
      await this.#building
    }
  }

  async #build(): Promise<void> {
    this.#dirty = false
    const table = new LeafTable()
    const entries = new Map<string, Map<string, string>>()
    const hashes = new Set<string>()
    const add = (r: FunctionRecord, key: string) => {
      const leaf = leafOf(r)
      const v = versionOf({ hlc: r.updated, origin: r.origin })
      table.toggle(leaf, key, v)
      const m = entries.get(leaf) ?? new Map<string, string>()
      entries.set(leaf, m)
      m.set(key, v)
    }
    for await (const r of this.#store.functions.scanVersions()) {
      add(r, versionKey(r))
      if (r.codeHash && !r.deleted) hashes.add(r.codeHash)
    }
    for (const h of await this.#store.functions.list(undefined, { includeDeleted: true })) add(h, headKey(h))
    this.#table = table
    this.#entries = entries
    this.#hashes = hashes
    this.#builtAt = Date.now()
  }
}
