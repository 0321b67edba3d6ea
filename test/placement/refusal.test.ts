import { describe, expect, it } from 'vitest'
import { errors } from '../../agent/errors.ts'
import type { Reason } from '../../agent/placement/choose.ts'
import { forwardResponseSchema } from '../../agent/placement/messages.ts'
import { forcedOrder, invokeOrRefuse, refusalFor, refusedAnswer } from '../../agent/placement/refusal.ts'
import type { LocalInvoker } from '../../agent/placement/service.ts'
import type { FunctionRecord } from '../../agent/store/types.ts'
import { SimCluster } from '../../bench/sim/cluster.ts'
import { acceptRule } from '../../bench/sim/policies.ts'

/** One target state, as the invoker reports it and as the simulator builds it. */
interface State {
  room: boolean
  idleWarm: boolean
  fitsWithoutEviction: boolean
}

const fn = { name: 'hello' } as FunctionRecord
const REASONS: Reason[] = ['warm', 'home', 'load', 'force']

function invoker(s: State): LocalInvoker {
  return {
    invoke: () => Promise.reject(new Error('not in this test')),
    canAccept: () => s.room,
    hasIdleWarm: () => s.idleWarm,
    fitsWithoutEviction: () => s.fitsWithoutEviction,
    freeSlots: () => (s.room ? 3 : 0),
  }
}

/** A two-slot simulated node in state `s`, built through its own start/finish (function 0 is placed). */
function simNode(s: State): { c: SimCluster; node: SimCluster['nodes'][number] } {
  const c = new SimCluster(1, 2, 60_000)
  const node = c.nodes[0]!
  if (s.idleWarm) {
    c.start(node, 0, 0)
    c.finish(node, 0, 0)
  } else if (s.room && !s.fitsWithoutEviction) {
    c.start(node, 1, 0)
    c.finish(node, 1, 0)
  }
  if (!s.room) {
    c.start(node, 1, 0)
    c.start(node, 2, 0)
  } else if (!s.fitsWithoutEviction) c.start(node, 3, 0)
  return { c, node }
}

describe('a target accepts or refuses from its fresh state', () => {
  it('takes an idle warm container whatever it is asked as', () => {
    const s = { room: true, idleWarm: true, fitsWithoutEviction: false }
    for (const r of REASONS) expect(refusalFor(invoker(s), false, fn, r)).toBeNull()
  })

  it('refuses warm work without an idle warm container, and cold work that would evict', () => {
    const full = { room: true, idleWarm: false, fitsWithoutEviction: false }
    expect(refusalFor(invoker(full), false, fn, 'warm')?.code).toBe('NOT_WARM')
    expect(refusalFor(invoker(full), false, fn, 'home')?.code).toBe('WOULD_EVICT')
    expect(refusalFor(invoker(full), false, fn, 'load')?.code).toBe('WOULD_EVICT')
    expect(refusalFor(invoker(full), false, fn, 'force')).toBeNull()
    const free = { room: true, idleWarm: false, fitsWithoutEviction: true }
    expect(refusalFor(invoker(free), false, fn, 'home')).toBeNull()
    expect(refusalFor(invoker(free), false, fn, 'warm')?.code).toBe('NOT_WARM')
  })

  it('refuses everything when full or draining', () => {
    const s = { room: false, idleWarm: false, fitsWithoutEviction: false }
    for (const r of REASONS) expect(refusalFor(invoker(s), false, fn, r)?.code).toBe('NODE_FULL')
    const ok = { room: true, idleWarm: true, fitsWithoutEviction: true }
    expect(refusalFor(invoker(ok), true, fn, 'force')?.code).toBe('DRAINING')
  })

  it('is mirrored exactly by the simulator', () => {
    for (const room of [true, false])
      for (const idleWarm of [true, false])
        for (const fitsWithoutEviction of room ? [true, false] : [false]) {
          const s = { room, idleWarm: idleWarm && room, fitsWithoutEviction }
          const { c, node } = simNode(s)
          expect(c.hasRoom(node)).toBe(s.room)
          expect(c.hasIdle(node, 0, 0)).toBe(s.idleWarm)
          for (const r of REASONS)
            expect(acceptRule(c, node, 0, 0, r), `${JSON.stringify(s)} as ${r}`).toBe(
              refusalFor(invoker(s), false, fn, r)?.code ?? null,
            )
        }
  })
})

describe("a refusal carries the target's free slots", () => {
  it('in the answer, which agents without the field still parse', () => {
    const s = { room: true, idleWarm: false, fitsWithoutEviction: false }
    const answer = refusedAnswer(invoker(s), false, fn, 'home')
    expect(answer).toEqual({
      type: 'refused',
      code: 'WOULD_EVICT',
      message: 'only by evicting a warm container',
      freeSlots: 3,
    })
    expect(forwardResponseSchema.parse(answer)).toEqual(answer)
    const old = { type: 'refused', code: 'WOULD_EVICT', message: 'x' }
    expect(forwardResponseSchema.parse(old)).toEqual(old)
    expect(refusedAnswer(invoker(s), false, fn, 'force')).toBeNull()
  })

  it('orders the forced pass freest first, list order on ties, silent refusers last', () => {
    const soft = [
      { id: 'a', freeSlots: 1 },
      { id: 'b' },
      { id: 'c', freeSlots: 4 },
      { id: 'd', freeSlots: 1 },
    ]
    expect(forcedOrder(soft).map((x) => x.id)).toEqual(['c', 'a', 'd', 'b'])
    expect(soft.map((x) => x.id)).toEqual(['a', 'b', 'c', 'd'])
  })
})

describe('a target that lost the last room between its check and the start', () => {
  const inv = invoker({ room: false, idleWarm: false, fitsWithoutEviction: false })

  it('refuses (the sender tries the next node) when nothing ran', async () => {
    for (const err of [errors.nodeFull('budget in use'), errors.draining('stopping')]) {
      const out = await invokeOrRefuse(inv, fn, () => Promise.reject(err))
      expect(out).toEqual({ type: 'refused', code: err.code, message: err.message, freeSlots: 0 })
      expect(forwardResponseSchema.safeParse(out).success).toBe(true)
    }
  })

  it('passes the record through, and any other failure up (the activation may have run)', async () => {
    const record = { activationId: 'a'.repeat(32) }
    expect(await invokeOrRefuse(inv, fn, () => Promise.resolve(record))).toEqual({ type: 'done', record })
    await expect(invokeOrRefuse(inv, fn, () => Promise.reject(new Error('docker died')))).rejects.toThrow(
      'docker died',
    )
  })
})
