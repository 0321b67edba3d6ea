import { describe, expect, it } from 'vitest'
import { applyDelta, diffState, type PeerState } from '../../agent/cluster/delta.ts'
import type { MemberView } from '../../agent/cluster/index.ts'
import {
  GossipedQueues,
  headPriority,
  nodeQueueOf,
  type QueueStats,
  queueAdvert,
} from '../../agent/queue/index.ts'

const stats = (over: Partial<QueueStats> = {}): QueueStats => ({
  waiting: [0, 0, 0],
  running: 0,
  delayed: 0,
  oldestAccepted: null,
  oldestPerPriority: [null, null, null],
  maxJobs: 10,
  completed: 0,
  refusedFull: 0,
  yielded: 0,
  ...over,
})

const AGING = 60_000

describe("the queue's gossiped share", () => {
  it('advertises depth per priority, running, the oldest accept time per priority (s) and dead letters; nothing when empty', () => {
    expect(queueAdvert(stats(), 0)).toEqual({})
    const ad = queueAdvert(
      stats({ waiting: [3, 0, 2], running: 1, delayed: 1, oldestPerPriority: [5_500, null, 9_999] }),
      4,
    )
    expect(ad).toEqual({ w0: 3, o0: 5, w2: 2, o2: 9, r: 2, d: 4 })
    expect(nodeQueueOf({ peerId: 'B', q: ad })).toEqual({
      node: 'B',
      self: false,
      waiting: [3, 0, 2],
      running: 2,
      oldestAccepted: 5_000,
      deadLetters: 4,
    })
  })

  it('travels in heartbeat deltas only when it changed, and a drained queue clears', () => {
    const base: PeerState = {
      addrs: [],
      capacity: {
        cpus: 1,
        load: 0,
        memTotalMiB: 1,
        memFreeMiB: 1,
        budgetMiB: 1,
        budgetFreeMiB: 1,
        freeSlots: 1,
        inflight: 0,
      },
      warm: {},
      prewarm: {},
      blobs: [],
      q: { w0: 3, o0: 5 },
    }
    expect(diffState(base, { ...base }).q).toBeUndefined()
    const drained = { ...base, q: { r: 1 } }
    const d = diffState(base, drained)
    expect(d.q).toEqual({ w0: 0, o0: 0, r: 1 })
    expect(applyDelta(base, d).q).toEqual({ r: 1 })
  })

  it('the head priority follows the aging rule; a node yields only to a higher one elsewhere', () => {
    const now = 1_000_000_000
    expect(headPriority(undefined, now, AGING)).toBe(-1)
    expect(headPriority({ w0: 1, o0: now / 1000 }, now, AGING)).toBe(0)
    // A priority-0 job waiting 2 x agingMs competes as 2.
    expect(headPriority({ w0: 1, o0: (now - 2 * AGING - 1000) / 1000 }, now, AGING)).toBe(2)
    // Seconds on the wire: a head is taken as young as its second allows, never older.
    expect(headPriority({ w0: 1, o0: (now - 2 * AGING) / 1000 }, now, AGING)).toBe(1)
    expect(headPriority({ w1: 1, o1: now / 1000, w0: 4, o0: now / 1000 }, now, AGING)).toBe(1)

    const member = (peerId: string, q: Record<string, number>, state = 'alive'): MemberView =>
      ({ peerId, q, state, self: false }) as unknown as MemberView
    let view: MemberView[] = [member('B', { w2: 1, o2: Date.now() / 1000, r: 2 })]
    const peers = new GossipedQueues({ view: () => view, publish: () => {} }, { agingMs: AGING, cacheMs: 0 })
    expect(peers.yieldTo(0)).toBe(true)
    expect(peers.yieldTo(1)).toBe(true)
    expect(peers.yieldTo(2)).toBe(false)
    expect(peers.depth()).toBe(3)
    // A dead node's jobs neither count nor take precedence (an owner takes them over).
    view = [member('B', { w2: 1, o2: Date.now() / 1000 }, 'dead')]
    expect(peers.yieldTo(0)).toBe(false)
    expect(peers.depth()).toBe(0)
  })
})
