import type { PlacementMember, PlacementTarget } from './score.ts'

interface Taken {
  seq: number
  slots: number
  warm: Map<string, number>
}

/**
 * Optimistic updates of the local view: after sending work to a peer, its free slots (and the
 * warm container used) go down here until its next heartbeat (a new `seq`) reports fresh state.
 */
export class OptimisticView {
  readonly #taken = new Map<string, Taken>()

  /** Records that one invocation of `t` was sent to `peerId` (whose last heartbeat had `seq`). */
  take(peerId: string, seq: number, t: PlacementTarget, usedWarm: boolean): void {
    let e = this.#taken.get(peerId)
    if (!e || e.seq !== seq) {
      e = { seq, slots: 0, warm: new Map() }
      this.#taken.set(peerId, e)
    }
    e.slots++
    if (usedWarm) e.warm.set(t.warmKey, (e.warm.get(t.warmKey) ?? 0) + 1)
  }

  /** The members with what was taken since their last heartbeat subtracted. */
  apply<M extends PlacementMember & { seq: number }>(members: readonly M[]): M[] {
    return members.map((m) => {
      const e = this.#taken.get(m.peerId)
      if (!e) return m
      if (e.seq !== m.seq) {
        this.#taken.delete(m.peerId)
        return m
      }
      const warm = { ...m.warm }
      for (const [k, n] of e.warm) warm[k] = Math.max(0, (warm[k] ?? 0) - n)
      return {
        ...m,
        warm,
        capacity: {
          ...m.capacity,
          freeSlots: Math.max(0, m.capacity.freeSlots - e.slots),
          inflight: m.capacity.inflight + e.slots,
        },
      }
    })
  }

  forget(peerId: string): void {
    this.#taken.delete(peerId)
  }
}
