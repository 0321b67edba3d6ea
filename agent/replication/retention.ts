import type { Logger } from '../log.ts'
import { hlcWall } from '../store/hlc.ts'
import type { Store } from '../store/index.ts'
import type { ActivationSet } from './activation-set.ts'
import type { FunctionSet } from './function-set.ts'
import type { ReplicationOptions } from './options.ts'

const CHUNK = 5000
/** Deletions per run at most, so a run stays short; the next run continues. */
const MAX_PER_RUN = 200_000

export interface RetentionComponents {
  logger: Logger
  store: Store
  actSet: ActivationSet
  fnSet: FunctionSet
}

/**
 * Expires activation records by age and by count (oldest first) and forgets tombstones after
 * their grace period. Cheap when there is nothing to do: one short range read.
 */
export class Retention {
  readonly #d: RetentionComponents
  readonly #o: ReplicationOptions
  /** Records that started before this were trimmed by count here: refused when replicated back. */
  #countFloor = 0

  constructor(components: RetentionComponents, opts: ReplicationOptions) {
    this.#d = components
    this.#o = opts
  }

  /** Start time (epoch ms) below which activation records are not kept. */
  floor(): number {
    return Math.max(Date.now() - this.#o.activationRetentionMs, this.#countFloor)
  }

  async run(): Promise<{ expired: number; trimmed: number; purged: number }> {
    const { store, actSet, fnSet } = this.#d
    let expired = 0
    for (let n = CHUNK; n === CHUNK && expired < MAX_PER_RUN; ) {
      const gone = await store.activations.deleteOldest({
        before: Date.now() - this.#o.activationRetentionMs,
        max: CHUNK,
      })
      actSet.removed(gone)
      n = gone.length
      expired += n
    }
    let trimmed = 0
    if (actSet.count > this.#o.activationMaxCount) {
      actSet.count = await store.activations.count()
      while (actSet.count > this.#o.activationMaxCount && trimmed < MAX_PER_RUN) {
        const gone = await store.activations.deleteOldest({
          max: Math.min(CHUNK, actSet.count - this.#o.activationMaxCount),
        })
        if (gone.length === 0) break
        actSet.removed(gone)
        trimmed += gone.length
        this.#countFloor = Math.max(this.#countFloor, gone[gone.length - 1]!.start + 1)
      }
    }
    let purged = 0
    const graceEnd = Date.now() - this.#o.tombstoneGraceMs
    for (const head of await store.functions.list(undefined, { includeDeleted: true })) {
      if (head.deleted && hlcWall(head.updated) < graceEnd && (await store.functions.purgeTombstone(head)))
        purged++
    }
    if (purged > 0) fnSet.changed()
    if (expired + trimmed + purged > 0) this.#d.logger.info({ expired, trimmed, purged }, 'retention')
    return { expired, trimmed, purged }
  }
}
