import type { Logger } from '../log.ts'
import {
  type ActivationQuery,
  type ActivationRecord,
  compareActivations,
  type Store,
} from '../store/index.ts'
import { activationSchema, listSchema } from './messages.ts'
import type { Ownership } from './owners.ts'
import type { Wire } from './wire.ts'

export interface ClusterQueryComponents {
  logger: Logger
  store: Store
  wire: Wire
  ownership: () => Ownership
  now: () => string
  timeoutMs: number
}

/** Reads of activation records across the cluster. */
export class ClusterQuery {
  readonly #d: ClusterQueryComponents

  constructor(components: ClusterQueryComponents) {
    this.#d = components
  }

  /**
   * A record from this node, else from its owners, else from any live peer; null when nobody has
   * it. A `running` marker or a `lost` record is not the last word: the other groups are asked too
   * and the winner by `compareActivations` is returned.
   */
  async fetchActivation(id: string, signal: AbortSignal): Promise<ActivationRecord | null> {
    let best = await this.#d.store.activations.get(id)
    if (best && !best.phase) return best
    const own = this.#d.ownership()
    const owners = own.activationOwners(id).filter((p) => p !== own.self)
    const others = own.members.filter((p) => p !== own.self && !owners.includes(p))
    for (const group of [owners, others]) {
      if (signal.aborted || group.length === 0) continue
      const found = await firstFound(
        group.map((peer) => this.#ask(peer, id, signal)),
        (r) => !r.phase,
      )
      for (const r of found) if (!best || compareActivations(r, best) > 0) best = r
      if (best && !best.phase) return best
    }
    return best
  }

  async #ask(peer: string, id: string, signal: AbortSignal): Promise<ActivationRecord | null> {
    try {
      const res = await this.#d.wire.request(
        peer,
        { type: 'activation', hlc: this.#d.now(), id },
        activationSchema,
        AbortSignal.any([signal, AbortSignal.timeout(this.#d.timeoutMs)]),
      )
      return res.record?.activationId === id ? res.record : null
    } catch (err) {
      this.#d.logger.debug({ err, peer, activationId: id }, 'activation fetch failed')
      return null
    }
  }

  /**
   * `activation list` over the cluster: this node's records merged with every live peer's, one per
   * id (the last-writer-wins winner), newest first. Peers that do not answer in time are left out.
   */
  async listCluster(q: ActivationQuery, signal: AbortSignal): Promise<ActivationRecord[]> {
    const limit = q.limit ?? 30
    const skip = q.skip ?? 0
    const peerQuery = {
      ...(q.name !== undefined ? { name: q.name } : {}),
      ...(q.namespace !== undefined ? { namespace: q.namespace } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.upto !== undefined ? { upto: q.upto } : {}),
      limit: Math.min(10_000, limit + skip),
    }
    const own = this.#d.ownership()
    const sig = AbortSignal.any([signal, AbortSignal.timeout(this.#d.timeoutMs)])
    const lists = await Promise.all([
      this.#d.store.activations.list({ ...peerQuery, skip: 0 }),
      ...own.members
        .filter((p) => p !== own.self)
        .map((peer) =>
          this.#d.wire
            .request(peer, { type: 'list', hlc: this.#d.now(), query: peerQuery }, listSchema, sig)
            .then((r) => r.records)
            .catch((err: unknown) => {
              this.#d.logger.debug({ err, peer }, 'activation list from a peer failed')
              return []
            }),
        ),
    ])
    const byId = new Map<string, ActivationRecord>()
    for (const r of lists.flat()) {
      // A peer is trusted with the filter, but a record of another namespace is never shown.
      if (q.namespace !== undefined && r.namespace !== q.namespace) continue
      const seen = byId.get(r.activationId)
      if (!seen || compareActivations(r, seen) > 0) byId.set(r.activationId, r)
    }
    return [...byId.values()]
      .filter((r) => r.phase !== 'running')
      .sort((a, b) => b.start - a.start || (a.activationId < b.activationId ? -1 : 1))
      .slice(skip, skip + limit)
  }
}

/**
 * Every non-null answer, as soon as one satisfies `final` (the others still pending are left out),
 * else once every ask answered.
 */
function firstFound<T>(asks: Promise<T | null>[], final: (v: T) => boolean): Promise<T[]> {
  return new Promise((resolve) => {
    const found: T[] = []
    let left = asks.length
    for (const a of asks) {
      a.then((v) => {
        left--
        if (v !== null) found.push(v)
        if ((v !== null && final(v)) || left === 0) resolve(found)
      })
    }
  })
}
