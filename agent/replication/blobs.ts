import type { Logger } from '../log.ts'
import { type FunctionRecord, type Store, sha256 } from '../store/index.ts'
import type { FunctionSet } from './function-set.ts'
import { blobSchema } from './messages.ts'
import type { Ownership } from './owners.ts'
import type { ReplicationStats } from './stats.ts'
import type { Wire } from './wire.ts'

export interface BlobReplicationComponents {
  logger: Logger
  store: Store
  wire: Wire
  stats: ReplicationStats
  fnSet: FunctionSet
  ownership: () => Ownership
  now: () => string
  timeoutMs: number
}

/** Code blobs: each is kept on its R owners; a node missing one it owns pulls it, hash-verified. */
export class BlobReplication {
  readonly #d: BlobReplicationComponents
  /** Owned blobs missing here at the last check. */
  missing = 0

  constructor(components: BlobReplicationComponents) {
    this.#d = components
  }

  /** Pulls missing owned blobs until `budget` bytes moved; returns how many it got and whether work is left. */
  async repair(budget: number, signal: AbortSignal): Promise<{ moved: number; more: boolean }> {
    const own = this.#d.ownership()
    const todo: string[] = []
    for (const hash of await this.#d.fnSet.referencedHashes()) {
      if (own.blobOwners(hash).includes(own.self) && !(await this.#d.store.blobs.has(hash))) todo.push(hash)
    }
    this.missing = todo.length
    let moved = 0
    let bytes = 0
    for (const hash of todo) {
      if (bytes >= budget || signal.aborted) break
      const data = await this.fetch(hash, signal)
      if (!data) continue
      bytes += data.byteLength
      moved++
      this.missing--
    }
    return { moved, more: this.missing > 0 && bytes >= budget }
  }

  /** The code of a version: from this node, else from its owners or any live peer (then kept here). */
  async code(record: FunctionRecord, signal: AbortSignal): Promise<Buffer | null> {
    if (!record.codeHash) return null
    return (await this.#d.store.blobs.get(record.codeHash)) ?? (await this.fetch(record.codeHash, signal))
  }

  /** Fetches a blob from peers (owners first), verifies its hash and stores it. */
  async fetch(hash: string, signal: AbortSignal): Promise<Buffer | null> {
    const own = this.#d.ownership()
    const owners = own.blobOwners(hash).filter((p) => p !== own.self)
    const others = own.members.filter((p) => p !== own.self && !owners.includes(p))
    for (const peer of [...owners, ...others]) {
      if (signal.aborted) return null
      try {
        const res = await this.#d.wire.request(
          peer,
          { type: 'blob', hlc: this.#d.now(), hash },
          blobSchema,
          AbortSignal.any([signal, AbortSignal.timeout(this.#d.timeoutMs)]),
        )
        if (res.data === null) continue
        const data = Buffer.from(res.data, 'base64')
        if (sha256(data) !== hash) {
          this.#d.stats.drop('badHash')
          this.#d.logger.warn({ peer, hash }, 'a peer sent a blob that does not match its hash; ignored')
          continue
        }
        await this.#d.store.blobs.put(data, hash)
        this.#d.stats.repaired(1)
        return data
      } catch (err) {
        this.#d.logger.debug({ err, peer, hash }, 'blob fetch failed')
      }
    }
    return null
  }
}
