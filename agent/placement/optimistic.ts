import type { PlacementMember, PlacementTarget, PlacementView } from './score.ts'

interface Taken {
  seq: number
  slots: number
  /** Invocations sent there per function version: each has a container on that peer now. */
  sent: Map<string, number>
}

/**
 * Optimistic updates of the local view: after sending work to a peer, its free slots go down here,
 * and it counts as holding a container of the function sent (busy for now, as gossip counts them),
 * until its next heartbeat (a new `seq`) reports fresh state: with views up to 10 s old at 1,000
 * nodes, knowing where one's own work went finds warm containers the view does not show yet
 * (docs/performance.md, "Placement simulator").
 */
export class OptimisticView {
  readonly #taken = new Map<string, Taken>()

  /**
   * Records that one invocation of `t` was sent to `peerId` (whose last heartbeat had `seq`). A warm
   * container it used still counts as warm: busy containers count, as the agent gossips them.
   */
  take(peerId: string, seq: number, t: PlacementTarget): void {
    let e = this.#taken.get(peerId)
    if (!e || e.seq !== seq) {
      e = { seq, slots: 0, sent: new Map() }
      this.#taken.set(peerId, e)
    }
    e.slots++
    e.sent.set(t.warmKey, (e.sent.get(t.warmKey) ?? 0) + 1)
  }

  /** Undoes one `take` of `t` on `peerId`: the peer refused the invocation. */
  release(peerId: string, t: PlacementTarget): void {
    const e = this.#taken.get(peerId)
    const n = e?.sent.get(t.warmKey)
    if (!e || !n) return
    e.slots--
    if (n > 1) e.sent.set(t.warmKey, n - 1)
    else e.sent.delete(t.warmKey)
  }

  /** The view with what was taken since each member's last heartbeat applied. */
  apply<M extends PlacementMember & { seq: number }>(view: PlacementView<M>): PlacementView<M> {
    if (this.#taken.size === 0) return view
    const overlaid = new Map<string, M>()
    const members = view.members.map((m) => {
      const e = this.#taken.get(m.peerId)
      if (!e) return m
      if (e.seq !== m.seq) {
        this.#taken.delete(m.peerId)
        return m
      }
      const warm = { ...m.warm }
      for (const k of e.sent.keys()) warm[k] = Math.max(1, warm[k] ?? 0)
      const o: M = {
        ...m,
        warm,
        capacity: {
          ...m.capacity,
          freeSlots: Math.max(0, m.capacity.freeSlots - e.slots),
          inflight: m.capacity.inflight + e.slots,
        },
      }
      overlaid.set(m.peerId, o)
      return o
    })
    return {
      members,
      warm: (key) => {
        const out: M[] = []
        for (const m of view.warm(key)) out.push(overlaid.get(m.peerId) ?? m)
        // Peers it sent this function to since their last heartbeat hold a container of it now.
        for (const o of overlaid.values()) if (o.warm[key] && !out.includes(o)) out.push(o)
        return out
      },
      ...(view.rank
        ? { rank: (key: string, k: number) => view.rank!(key, k).map((m) => overlaid.get(m.peerId) ?? m) }
        : {}),
    }
  }

  forget(peerId: string): void {
    this.#taken.delete(peerId)
  }
}
