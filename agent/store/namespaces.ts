import { z } from 'zod'
import { BUCKETS, type Db } from './db.ts'
import { isHlc } from './hlc.ts'
import { LwwTable } from './lww-table.ts'
import { NAMESPACE_RE } from './types.ts'

/** Per-namespace limits; an absent limit is no limit. */
export const namespaceLimitsSchema = z
  .object({
    /** Activations in flight in the whole cluster (approximate: see docs/api.md, Limits). */
    concurrent: z.number().int().min(1).max(1_000_000).optional(),
    /** Invocations admitted in one minute, in the whole cluster (approximate). */
    perMinute: z.number().int().min(1).max(100_000_000).optional(),
  })
  .strict()
export type NamespaceLimits = z.infer<typeof namespaceLimitsSchema>

/** A namespace's settings, replicated to every node (last-writer-wins). */
export const namespaceRecordSchema = z
  .object({
    namespace: z.string().regex(NAMESPACE_RE),
    limits: namespaceLimitsSchema,
    updated: z.string().refine(isHlc, 'an HLC timestamp'),
    origin: z.string().min(1).max(128),
  })
  .strict()
export type NamespaceRecord = z.infer<typeof namespaceRecordSchema>

export class NamespaceRepository {
  readonly table: LwwTable<NamespaceRecord>

  constructor(db: Db) {
    this.table = new LwwTable<NamespaceRecord>(db, BUCKETS.namespaces, (r) => r.namespace)
  }

  get(namespace: string): Promise<NamespaceRecord | null> {
    return this.table.get(namespace)
  }

  put(record: NamespaceRecord): Promise<void> {
    return this.table.put(namespaceRecordSchema.parse(record))
  }

  merge(record: NamespaceRecord): Promise<boolean> {
    return this.table.merge(namespaceRecordSchema.parse(record))
  }
}
