import type { z } from 'zod'
import type { ActivationRecord, ApiKeyRecord, NamespaceRecord, PackageRecord } from '../store/index.ts'
import { diffEntries, type LeafTable } from './digest.ts'
import { ackSchema, entriesSchema, type FnEntry, type Kind, recordsSchema, treeSchema } from './messages.ts'
import type { Wire } from './wire.ts'

const HEX = '0123456789abcdef'
const ZERO = '0'.repeat(32)

/** One replicated data set (function metadata, activation records) as anti-entropy drives it. */
export interface SyncSet<R> {
  readonly kind: Kind
  readonly depth: number
  table(): Promise<LeafTable>
  /** Whether both this node and `peer` should hold the leaf (their digests must match). */
  include(leaf: string, peer: string): boolean
  entries(leaves: readonly string[]): Promise<Map<string, Map<string, string>>>
  get(keys: readonly string[]): Promise<R[]>
  apply(records: readonly R[]): Promise<void>
  received(answer: z.infer<typeof recordsSchema>): R[]
  leafOf(key: string): string
  pushBody(records: R[]): {
    functions: FnEntry[]
    activations: ActivationRecord[]
    keys?: ApiKeyRecord[]
    packages?: PackageRecord[]
    namespaces?: NamespaceRecord[]
  }
}

export interface SyncContext {
  wire: Wire
  now: () => string
  signal: AbortSignal
  timeoutMs: number
  /** Largest `get` answer asked for at once. */
  maxChunkBytes: number
}

export interface SyncOptions {
  /** Compare these leaves as such (catch-up from a previous owner); the shared tree when omitted. */
  leaves?: readonly string[]
  pull: boolean
  push: boolean
  /** Bytes this exchange may move. */
  budget: number
}

export interface SyncResult {
  /** Records pulled and pushed. */
  moved: number
  bytes: number
  /** Differences left for a later round (the budget ran out). */
  more: boolean
  /** Leaves with differences left. */
  remaining: Set<string>
}

/** Compares digests with `peer`, descending only into differing subtrees, and repairs both ways. */
export async function syncWith<R>(
  ctx: SyncContext,
  peer: string,
  set: SyncSet<R>,
  opts: SyncOptions,
): Promise<SyncResult> {
  const meter = { bytes: 0 }
  const ask = <T>(req: Record<string, unknown>, schema: z.ZodType<T>) =>
    ctx.wire.request(
      peer,
      { ...req, hlc: ctx.now(), kind: set.kind } as Parameters<Wire['request']>[1],
      schema,
      AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.timeoutMs)]),
      meter,
    )
  const table = await set.table()
  const diff = opts.leaves ? await diffLeaves(opts.leaves, table, ask) : await descend(peer, set, table, ask)

  // Leaf chunk by leaf chunk: compare entries, then pull and push that chunk's differences, so
  // every chunk makes progress even when the budget runs out before the last one.
  const want: string[] = []
  const give: string[] = []
  const queue = [...diff]
  let moved = 0
  while (queue.length > 0 && meter.bytes < opts.budget) {
    const chunk = queue.splice(0, 64)
    const res = await ask({ type: 'entries', leaves: chunk }, entriesSchema)
    const done = chunk.filter((l) => !res.truncated.includes(l))
    queue.unshift(...res.truncated)
    if (done.length === 0) break
    const local = await set.entries(done)
    for (const leaf of done) {
      const d = diffEntries(local.get(leaf) ?? new Map(), new Map(res.entries[leaf] ?? []))
      if (opts.pull) want.push(...d.want)
      if (opts.push) give.push(...d.give)
    }
    moved += await pull(want)
    moved += await push(give)
  }

  async function pull(keys: string[]): Promise<number> {
    let n = 0
    while (keys.length > 0 && meter.bytes < opts.budget) {
      const batch = keys.splice(0, 2000)
      const maxBytes = Math.max(1024, Math.min(ctx.maxChunkBytes, opts.budget - meter.bytes))
      const res = await ask({ type: 'get', keys: batch, maxBytes }, recordsSchema)
      keys.unshift(...batch.slice(res.served))
      if (res.served === 0) break
      const records = set.received(res)
      await set.apply(records)
      n += records.length
    }
    return n
  }

  async function push(keys: string[]): Promise<number> {
    let n = 0
    while (keys.length > 0 && meter.bytes < opts.budget) {
      const records = await set.get(keys.splice(0, 500))
      for (const part of chunksByBytes(records, ctx.maxChunkBytes)) {
        const ack = await ask({ type: 'push', ...set.pushBody(part) }, ackSchema)
        n += [...ack.functions, ...ack.activations, ...ack.keys, ...ack.packages, ...ack.namespaces].filter(
          Boolean,
        ).length
      }
    }
    return n
  }

  const remaining = new Set(queue)
  for (const k of [...want, ...give]) remaining.add(set.leafOf(k))
  return { moved, bytes: meter.bytes, more: remaining.size > 0, remaining }
}

type Ask = <T>(req: Record<string, unknown>, schema: z.ZodType<T>) => Promise<T>

async function diffLeaves(leaves: readonly string[], table: LeafTable, ask: Ask): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < leaves.length; i += 1024) {
    const chunk = leaves.slice(i, i + 1024)
    const res = await ask({ type: 'tree', leaves: chunk }, treeSchema)
    for (const l of chunk) if (table.leaf(l) !== (res.hashes[l] ?? ZERO)) out.push(l)
  }
  return out
}

async function descend<R>(peer: string, set: SyncSet<R>, table: LeafTable, ask: Ask): Promise<string[]> {
  const out: string[] = []
  let frontier = ['']
  while (frontier.length > 0) {
    const next: string[] = []
    for (let i = 0; i < frontier.length; i += 256) {
      const chunk = frontier.slice(i, i + 256)
      const res = await ask({ type: 'tree', prefixes: chunk }, treeSchema)
      const local = table.children(chunk, (leaf) => set.include(leaf, peer))
      for (const p of chunk) {
        for (const c of HEX) {
          const child = p + c
          if ((local[child] ?? ZERO) === (res.hashes[child] ?? ZERO)) continue
          ;(child.length >= set.depth ? out : next).push(child)
        }
      }
    }
    frontier = next
  }
  return out
}

function* chunksByBytes<R>(records: readonly R[], maxBytes: number): Generator<R[]> {
  let chunk: R[] = []
  let bytes = 0
  for (const r of records) {
    const n = JSON.stringify(r).length
    if (chunk.length > 0 && bytes + n > maxBytes) {
      yield chunk
      chunk = []
      bytes = 0
    }
    chunk.push(r)
    bytes += n
  }
  if (chunk.length > 0) yield chunk
}
