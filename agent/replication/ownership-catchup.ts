import type { Logger } from '../log.ts'
import type { ActivationRecord, FunctionRecord } from '../store/index.ts'
import { type SyncContext, type SyncSet, syncWith } from './digest-sync.ts'
import { type Ownership, PARTITIONS, partitionName } from './owners.ts'

interface Task {
  /** Pull all function metadata from the peer (it is new to this node's view). */
  fn: boolean
  /** Activation partitions to pull from the peer. */
  act: Set<string>
}

/**
 * What a membership change asks of this node: pull what it now owns. For each partition it owns,
 * from each co-owner it did not share the partition with before, and — when the partition is new
 * to it — from the members that owned it without this node (the previous owners). Pull-only and
 * bounded per round; a task is done when its leaves match or the peer has nothing more to give.
 */
export class CatchUp {
  readonly #tasks = new Map<string, Task>()

  get size(): number {
    return this.#tasks.size
  }

  plan(prev: Ownership, next: Ownership): void {
    const self = next.self
    for (const peer of next.members) {
      if (peer !== self && !prev.members.includes(peer)) this.#task(peer).fn = true
    }
    const before = next.withoutSelf()
    for (let i = 0; i < PARTITIONS; i++) {
      const p = partitionName(i)
      const now = next.partitionOwners(p)
      if (!now.includes(self)) continue
      const was = prev.partitionOwners(p)
      const wasOwner = was.includes(self)
      for (const peer of now)
        if (peer !== self && (!wasOwner || !was.includes(peer))) this.#task(peer).act.add(p)
      if (!wasOwner)
        for (const peer of before.partitionOwners(p)) if (!now.includes(peer)) this.#task(peer).act.add(p)
    }
    for (const [peer, t] of this.#tasks)
      if (!next.members.includes(peer) || (!t.fn && t.act.size === 0)) this.#tasks.delete(peer)
  }

  /** Works on the oldest task within `budget` bytes. */
  async step(
    ctx: SyncContext,
    own: Ownership,
    sets: { fn: SyncSet<FunctionRecord>; act: SyncSet<ActivationRecord> },
    budget: number,
    log: Logger,
  ): Promise<{ moved: number; bytes: number; more: boolean }> {
    const first = this.#tasks.entries().next()
    if (first.done) return { moved: 0, bytes: 0, more: false }
    const [peer, task] = first.value
    this.#tasks.delete(peer)
    if (!own.members.includes(peer)) return { moved: 0, bytes: 0, more: this.#tasks.size > 0 }
    let moved = 0
    let bytes = 0
    try {
      if (task.fn) {
        const r = await syncWith(ctx, peer, sets.fn, { pull: true, push: false, budget })
        ;({ moved, bytes } = r)
        task.fn = r.more
      }
      if (task.act.size > 0 && bytes < budget) {
        const r = await syncWith(ctx, peer, sets.act, {
          leaves: [...task.act].sort(),
          pull: true,
          push: false,
          budget: budget - bytes,
        })
        moved += r.moved
        bytes += r.bytes
        task.act = r.remaining
      }
      if (task.fn || task.act.size > 0) this.#tasks.set(peer, task) // to the back of the queue
    } catch (err) {
      if (!ctx.signal.aborted)
        log.debug({ err, peer }, 'catch-up from a peer failed; anti-entropy will cover it')
    }
    return { moved, bytes, more: this.#tasks.size > 0 }
  }

  #task(peer: string): Task {
    const t = this.#tasks.get(peer) ?? { fn: false, act: new Set<string>() }
    this.#tasks.set(peer, t)
    return t
  }
}
