import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Level } from 'level'
import { errors } from '../errors.ts'

/**
 * The registry of sublevel prefixes. A prefix is never reused for another purpose: retire a name
 * by leaving it here commented, never by recycling it.
 */
export const BUCKETS = {
  functions: 'fn', // `${ns}/${name}\x00${pad(version)}` -> FunctionRecord
  heads: 'fnhead', // `${ns}/${name}` -> FunctionRecord (latest version or tombstone)
  blobs: 'blob', // sha256 hex -> code bytes
  blobRefs: 'blobref', // `${sha256}\x00${ns}/${name}\x00${pad(version)}` -> ''
  activations: 'act', // activationId -> ActivationRecord
  activationsByTime: 'actt', // `${pad(start)}\x00${activationId}` -> ''
  activationsRunning: 'actrun', // activationId -> '' (records in phase 'running': markers not yet resolved)
  activationsDead: 'actdead', // activationId -> '' (dead letters: a job's final failed record, not replayed yet)
  activationsCallback: 'actcb', // activationId -> '' (a job's finished record whose completion callback is not delivered yet)
  peers: 'peer', // peerId -> { peerId, addrs, updated }
  meta: 'meta', // 'schemaVersion', ...
  apiKeys: 'apikey', // uuid -> { uuid, keyHash, salt, namespace, created, revoked?, updated, origin } (OpenWhisk REST API keys, replicated)
  packages: 'pkg', // `${ns}/${name}` -> PackageRecord (a delete keeps the record with deleted: true)
  namespaces: 'ns', // namespace -> NamespaceRecord (per-namespace limits)
  events: 'evt', // `trigger:${ns}/${name}` | `rule:${ns}/${name}` | `alarm:${ns}/${name}` -> EventRecord (deleted: true when deleted)
  replication: 'repl', // replication bookkeeping (owners confirmed, last repair)
} as const

export const SCHEMA_VERSION = 1

export type Db = Level<string, unknown>

/** Opens (creating) the LevelDB under `<dataDir>/db`. A second agent on the same dir gets DATA_DIR_LOCKED. */
export async function openDb(dataDir: string): Promise<Db> {
  const location = join(dataDir, 'db')
  mkdirSync(location, { recursive: true, mode: 0o700 })
  const db = new Level<string, unknown>(location, { valueEncoding: 'json' })
  try {
    await db.open()
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause
    if (cause?.code === 'LEVEL_LOCKED') {
      throw errors.dataDirLocked(
        `another agent is using ${dataDir} (its database is locked); stop it or pick another --data-dir`,
        {
          cause: err,
        },
      )
    }
    throw errors.internal(`cannot open the database in ${location}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  const meta = db.sublevel<string, unknown>(BUCKETS.meta, { valueEncoding: 'json' })
  const version = await meta.get('schemaVersion')
  if (version === undefined) await meta.put('schemaVersion', SCHEMA_VERSION)
  else if (version !== SCHEMA_VERSION) {
    await db.close()
    throw errors.internal(
      `the database in ${location} has schema version ${String(version)}; this agent reads ${SCHEMA_VERSION}`,
    )
  }
  return db
}

/** Fixed-width decimal so that keys sort numerically. */
export function pad(n: number, width = 15): string {
  return String(n).padStart(width, '0')
}
