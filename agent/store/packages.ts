import { z } from 'zod'
import { BUCKETS, type Db } from './db.ts'
import { isHlc } from './hlc.ts'
import { LwwTable } from './lww-table.ts'
import { NAME_PART, NAMESPACE_RE } from './types.ts'

const PART_RE = new RegExp(`^${NAME_PART}$`)
const jsonObject = z.record(z.string(), z.unknown())

/**
 * An OpenWhisk package: a folder of actions (`pkg/action`) with default parameters, or a binding to
 * another package (maybe of another namespace, when that one is published) whose parameters go
 * over the bound package's. Replicated to every node; a delete is a newer copy with `deleted`.
 */
export const packageRecordSchema = z
  .object({
    namespace: z.string().regex(NAMESPACE_RE),
    name: z.string().regex(PART_RE),
    version: z.number().int().positive(),
    publish: z.boolean(),
    binding: z
      .object({ namespace: z.string().regex(NAMESPACE_RE), name: z.string().regex(PART_RE) })
      .optional(),
    parameters: jsonObject,
    annotations: jsonObject,
    updated: z.string().refine(isHlc, 'an HLC timestamp'),
    origin: z.string().min(1).max(128),
    deleted: z.boolean().optional(),
  })
  .strict()
export type PackageRecord = z.infer<typeof packageRecordSchema>

export const packageId = (r: { namespace: string; name: string }) => `${r.namespace}/${r.name}`

/** Packages and bindings in the `pkg` bucket (`namespace/name`, one part each: no collision). */
export class PackageRepository {
  readonly table: LwwTable<PackageRecord>

  constructor(db: Db) {
    this.table = new LwwTable<PackageRecord>(db, BUCKETS.packages, packageId)
  }

  /** The live package, or null (missing or deleted). */
  async get(namespace: string, name: string): Promise<PackageRecord | null> {
    const r = await this.table.get(packageId({ namespace, name }))
    return r && !r.deleted ? r : null
  }

  /** The record, tombstones included. */
  head(namespace: string, name: string): Promise<PackageRecord | null> {
    return this.table.get(packageId({ namespace, name }))
  }

  /** Live packages of a namespace, by name. */
  async list(namespace: string): Promise<PackageRecord[]> {
    return (await this.table.all())
      .filter((r) => r.namespace === namespace && !r.deleted)
      .sort((a, b) => (a.name < b.name ? -1 : 1))
  }

  /** Live published packages of every namespace (what `wsk package list /whisk.system` shows). */
  async published(): Promise<PackageRecord[]> {
    return (await this.table.all()).filter((r) => r.publish && !r.deleted && !r.binding)
  }

  put(record: PackageRecord): Promise<void> {
    packageRecordSchema.parse(record)
    return this.table.put(record)
  }

  merge(record: PackageRecord): Promise<boolean> {
    packageRecordSchema.parse(record)
    return this.table.merge(record)
  }
}
