import { describe, expect, it } from 'vitest'
import { applyDelta, diffState, heartbeatPeriodMs, type PeerState } from '../../agent/cluster/delta.ts'
import { decodeMessage, encodeMessage } from '../../agent/cluster/messages.ts'
import { validateMessage } from '../../agent/cluster/validate.ts'
import { formatHlc } from '../../agent/store/hlc.ts'

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
const full = (peer: string, seq: number) =>
  encodeMessage({
    v: 1,
    t: 'full',
    peer,
    seq,
    hlc: formatHlc(Date.now(), 0),
    iv: 1000,
    ver: '0.1.0',
    addrs: ['/ip4/10.0.0.1/tcp/7700'],
    cap,
    warm: { 'guest/hello@1': 1 },
    prewarm: { 'nodejs:24@256': 2 },
    blobs: [],
  })
const ctx = { maxBytes: 32 * 1024, lastSeq: (p: string) => (p === 'A' ? 5 : 0) }
const bytes = (s: string) => new TextEncoder().encode(s)

describe('heartbeat validation', () => {
  it('accepts a well-formed signed heartbeat from its sender', () => {
    const v = validateMessage(full('B', 1), 'B', ctx)
    expect(v.ok && v.msg.t).toBe('full')
  })

  it.each([
    ['unsigned', full('B', 1), undefined],
    ['malformed', bytes('{"v":1'), 'B'],
    ['malformed', bytes('{"v":2,"t":"full"}'), 'B'],
    ['malformed', bytes(JSON.stringify({ v: 1, t: 'leave', peer: 'B', seq: 1, hlc: 'x' })), 'B'],
    ['malformed', new Uint8Array([0xff, 0xfe, 0x00]), 'B'],
    ['oversized', new Uint8Array(40 * 1024).fill(0x20), 'B'],
    ['spoofed', full('C', 1), 'B'],
    ['stale', full('A', 5), 'A'],
    ['stale', full('A', 4), 'A'],
  ])('drops a %s message', (reason, data, signer) => {
    expect(validateMessage(data, signer, ctx)).toEqual({ ok: false, reason })
  })

  it('rejects unknown fields and out-of-range numbers', () => {
    const m = JSON.parse(new TextDecoder().decode(full('B', 1)))
    expect(decodeMessage(bytes(JSON.stringify({ ...m, extra: 1 })), 1e6).ok).toBe(false)
    expect(decodeMessage(bytes(JSON.stringify({ ...m, cap: { ...cap, load: -1 } })), 1e6).ok).toBe(false)
  })
})

describe('deltas', () => {
  const base: PeerState = {
    addrs: ['/ip4/10.0.0.1/tcp/7700'],
    capacity: cap,
    warm: { a: 1, b: 2 },
    prewarm: {},
    blobs: [],
  }

  it('carry only what changed, and rebuild the state from the full heartbeat', () => {
    const cur: PeerState = { ...base, capacity: { ...cap, freeSlots: 3 }, warm: { b: 3, c: 1 } }
    const d = diffState(base, cur)
    expect(d).toEqual({ cap: { freeSlots: 3 }, warm: { a: 0, b: 3, c: 1 } })
    expect(applyDelta(base, d)).toEqual(cur)
    expect(diffState(base, base)).toEqual({})
  })

  it('the heartbeat period grows with cluster size to bound inbound messages', () => {
    const o = { heartbeatMs: 1000, maxInboundPerSec: 100 }
    expect(heartbeatPeriodMs(10, o)).toBe(1000)
    expect(heartbeatPeriodMs(100, o)).toBe(1000)
    expect(heartbeatPeriodMs(1000, o)).toBe(10_000)
    expect(1000 / (heartbeatPeriodMs(1000, o) / 1000)).toBeLessThanOrEqual(100)
  })
})
