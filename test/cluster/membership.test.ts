import { describe, expect, it } from 'vitest'
import { Membership } from '../../agent/cluster/membership.ts'
import type { ClusterMessage, DeltaHeartbeat, FullHeartbeat } from '../../agent/cluster/messages.ts'
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
  it('silence is not a failure (idle members send nothing); a failed probe makes a member suspect', () => {
    const { m, advance } = setup()
    expect(m.receive(full('A', 1)).verdict).toBe('new')
    expect(advance(60_000).changed).toEqual([])
    expect(m.get('A')?.state).toBe('alive')
    expect(m.probeResult('A', false)?.state).toBe('suspect')
  })

  it('an answered probe keeps a suspect alive; a failed one leads to dead after the suspicion timeout, then removal', () => {
    const { m, advance } = setup()
    m.receive(full('A', 1))
    m.probeResult('A', false)
    m.probeResult('A', true)
    expect(m.get('A')?.state).toBe('alive')
    m.probeResult('A', false)
    expect(m.get('A')?.state).toBe('suspect')
    advance(1000)
    expect(m.get('A')?.state).toBe('suspect') // the suspicion lasts deadMs − suspectMs
    expect(advance(1100).changed.map((x) => x.state)).toEqual(['dead'])
    expect(advance(60_000).removed).toEqual(['A'])
    expect(m.get('A')).toBeUndefined()
    // an old message cannot bring a removed peer back
    expect(m.receive(full('A', 1)).verdict).toBe('stale')
  })

  it('a suspect is probed again every period; a suspicion heard from another is probed once, when it has run unrefuted', () => {
    const { m, advance } = setup()
    m.receive(full('A', 1))
    m.receive(full('B', 1))
    const r = m.receive({
      v: 1,
      t: 'suspect',
      peer: 'B',
      seq: 2,
      hlc: formatHlc(2, 0),
      target: 'A',
      targetSeq: 1,
    })
    expect(r.target?.state).toBe('suspect')
    expect(advance(10).probe).toEqual([]) // no probe storm: every member heard the same notice
    expect(advance(2000).probe).toEqual(['A'])
    advance(5000)
    expect(m.get('A')?.state).toBe('suspect') // our probe still in flight: no verdict
    m.probeResult('A', true)
    expect(m.get('A')?.state).toBe('alive')
    m.probeResult('A', false) // our own probe fails: we accuse it
    expect(advance(1000).probe).toEqual(['A']) // probed again a period later
    m.probeResult('A', false)
    advance(1000)
    expect(m.get('A')?.state).toBe('dead')
  })

  it('a suspect refutes with anything newer (its seq is its incarnation); an old suspicion is ignored', () => {
    const { m } = setup()
    m.receive(full('A', 5))
    m.receive(full('B', 1))
    m.receive({ v: 1, t: 'suspect', peer: 'B', seq: 2, hlc: formatHlc(2, 0), target: 'A', targetSeq: 5 })
    expect(m.get('A')?.state).toBe('suspect')
    m.receive({ v: 1, t: 'delta', peer: 'A', seq: 6, hlc: formatHlc(6, 0), iv: 1000, base: 5 })
    expect(m.get('A')?.state).toBe('alive')
    m.receive({ v: 1, t: 'suspect', peer: 'B', seq: 3, hlc: formatHlc(3, 0), target: 'A', targetSeq: 5 })
    expect(m.get('A')?.state).toBe('alive')
  })

  it('a dead peer that speaks again, or answers a probe, is alive again', () => {
    const { m, advance } = setup()
    m.receive(full('A', 1))
    m.probeResult('A', false)
    advance(2100)
    expect(m.get('A')?.state).toBe('dead')
    expect(m.receive(full('A', 2)).verdict).toBe('applied')
    expect(m.get('A')?.state).toBe('alive')
    m.probeResult('A', false)
    advance(2100)
    expect(m.get('A')?.state).toBe('dead')
    expect(m.probeResult('A', true)?.state).toBe('alive')
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

  it('push-pull records apply when newer than the state we hold, even after a notice from the member', () => {
    const { m } = setup()
    const base = full('A', 10) as FullHeartbeat
    const delta = {
      v: 1,
      t: 'delta',
      peer: 'A',
      seq: 11,
      hlc: formatHlc(11, 0),
      iv: 1000,
      base: 10,
      warm: { 'guest/f@1': 3 },
    } as DeltaHeartbeat
    expect(m.merge({ full: base, delta }).verdict).toBe('new')
    expect(m.get('A')?.warm).toEqual({ 'guest/f@1': 3 })
    expect(m.record('A')).toEqual({ full: base, delta })
    expect(m.merge({ full: base, delta }).verdict).toBe('stale')
    // A's own suspicion notice (seq 12) moved its seq past its state; a later delta still applies by merge.
    m.receive(full('B', 1))
    m.receive({ v: 1, t: 'suspect', peer: 'A', seq: 13, hlc: formatHlc(13, 0), target: 'B', targetSeq: 1 })
    const newer = { ...delta, seq: 12, warm: { 'guest/f@1': 1 } }
    expect(m.merge({ full: base, delta: newer }).verdict).toBe('applied')
    expect(m.get('A')?.warm).toEqual({ 'guest/f@1': 1 })
    expect(m.get('A')?.seq).toBe(13)
  })
})
