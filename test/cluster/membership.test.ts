import { describe, expect, it } from 'vitest'
import { failureTimeouts, Membership } from '../../agent/cluster/membership.ts'
import type { ClusterMessage } from '../../agent/cluster/messages.ts'
import { formatHlc } from '../../agent/store/hlc.ts'

const init = { suspectMs: 3000, deadMs: 5000, removeMs: 60_000 }
const cap = {
  cpus: 2,
  load: 10,
  memTotalMiB: 4096,
  memFreeMiB: 2048,
  budgetMiB: 1024,
  budgetFreeMiB: 1024,
  freeSlots: 4,
  inflight: 0,
}

function full(peer: string, seq: number, extra: Partial<ClusterMessage> = {}): ClusterMessage {
  return {
    v: 1,
    t: 'full',
    peer,
    seq,
    hlc: formatHlc(seq, 0),
    iv: 1000,
    ver: '1',
    addrs: ['/ip4/10.0.0.1/tcp/7700'],
    cap,
    warm: {},
    prewarm: {},
    blobs: [],
    ...extra,
  } as ClusterMessage
}

function setup() {
  let now = 1_000_000
  const m = new Membership(init, () => now)
  return {
    m,
    advance: (ms: number) => {
      now += ms
      return m.tick()
    },
  }
}

describe('membership state machine', () => {
  it('a missed heartbeat or two is not a failure; silence makes a peer suspect and probed', () => {
    const { m, advance } = setup()
    expect(m.receive(full('A', 1)).verdict).toBe('new')
    expect(advance(2500).changed).toEqual([])
    expect(m.get('A')?.state).toBe('alive')
    const t = advance(600)
    expect(m.get('A')?.state).toBe('suspect')
    expect(t.probe).toEqual(['A'])
  })

  it('an answered probe keeps a suspect alive; a failed one leads to dead, then removal', () => {
    const { m, advance } = setup()
    m.receive(full('A', 1))
    advance(3100)
    m.probeResult('A', true)
    expect(m.get('A')?.state).toBe('alive')
    advance(3100) // silent again: suspect, probed again
    expect(m.get('A')?.state).toBe('suspect')
    m.probeResult('A', false)
    advance(1000)
    expect(m.get('A')?.state).toBe('suspect') // not yet deadMs of silence
    advance(1100)
    expect(m.get('A')?.state).toBe('dead')
    expect(advance(60_000).removed).toEqual(['A'])
    expect(m.get('A')).toBeUndefined()
    // an old message cannot bring a removed peer back
    expect(m.receive(full('A', 1)).verdict).toBe('stale')
  })

  it('a suspect that is never probed successfully is not dead before a probe fails', () => {
    const { m, advance } = setup()
    m.receive(full('A', 1))
    advance(3100)
    advance(5000)
    expect(m.get('A')?.state).toBe('suspect') // probe still in flight
  })

  it('a dead peer that speaks again is alive again', () => {
    const { m, advance } = setup()
    m.receive(full('A', 1))
    advance(3100)
    m.probeResult('A', false)
    advance(2100)
    expect(m.get('A')?.state).toBe('dead')
    expect(m.receive(full('A', 2)).verdict).toBe('applied')
    expect(m.get('A')?.state).toBe('alive')
  })

  it('a leave marks the peer left at once', () => {
    const { m } = setup()
    m.receive(full('A', 1))
    m.receive({ v: 1, t: 'leave', peer: 'A', seq: 2, hlc: formatHlc(2, 0) })
    expect(m.get('A')?.state).toBe('left')
  })

  it('a lost connection triggers a probe; a failed probe makes the peer suspect', () => {
    const { m, advance } = setup()
    m.receive(full('A', 1))
    m.doubt('A')
    expect(advance(10).probe).toEqual(['A'])
    m.probeResult('A', false)
    expect(m.get('A')?.state).toBe('suspect')
    advance(2000)
    expect(m.get('A')?.state).toBe('dead')
  })

  it('a dead report from another member is confirmed by our own failed probe at once', () => {
    const { m, advance } = setup()
    m.receive(full('A', 1))
    m.receive(full('B', 1))
    m.receive({ v: 1, t: 'down', peer: 'B', seq: 2, hlc: formatHlc(2, 0), target: 'A', targetSeq: 1 })
    expect(advance(10).probe).toEqual(['A'])
    m.probeResult('A', false)
    expect(m.get('A')?.state).toBe('dead')
    // a report older than what we heard since is ignored
    m.receive(full('C', 1))
    m.receive(full('C', 5))
    m.receive({ v: 1, t: 'down', peer: 'B', seq: 3, hlc: formatHlc(3, 0), target: 'C', targetSeq: 1 })
    expect(advance(10).probe).toEqual([])
  })

  it('replays and older messages are stale; deltas apply to their full heartbeat only', () => {
    const { m } = setup()
    m.receive(full('A', 10, { warm: { 'guest/f@1': 1 } } as Partial<ClusterMessage>))
    expect(m.receive(full('A', 10)).verdict).toBe('stale')
    expect(m.receive(full('A', 9)).verdict).toBe('stale')
    const delta = { v: 1, t: 'delta', peer: 'A', hlc: formatHlc(11, 0), iv: 1000 } as const
    expect(m.receive({ ...delta, seq: 11, base: 10, warm: { 'guest/f@1': 0, 'guest/g@1': 2 } }).verdict).toBe(
      'applied',
    )
    expect(m.get('A')?.warm).toEqual({ 'guest/g@1': 2 })
    expect(m.receive({ ...delta, seq: 12, base: 5, warm: { 'guest/h@1': 1 } }).verdict).toBe('liveness')
    expect(m.get('A')?.warm).toEqual({ 'guest/g@1': 2 })
    expect(m.receive({ ...delta, peer: 'B', seq: 12, base: 5 }).verdict).toBe('unknown')
  })

  it('failure timeouts scale with the sender heartbeat period', () => {
    expect(failureTimeouts(1000, init)).toEqual({ suspectAfter: 3000, deadAfter: 5000 })
    expect(failureTimeouts(10_000, init)).toEqual({ suspectAfter: 30_000, deadAfter: 32_000 })
  })
})
