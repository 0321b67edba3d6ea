import type { Multiaddr } from '@multiformats/multiaddr'
import type { MemberView } from './index.ts'
import type { Member } from './membership.ts'

export function memberView(m: Member): MemberView {
  return {
    peerId: m.peerId,
    addrs: m.addrs,
    state: m.state,
    self: false,
    lastHeard: Math.max(m.lastHeard, m.lastAck),
    seq: m.seq,
    hlc: m.hlc,
    agentVersion: m.agentVersion,
    capacity: m.capacity,
    warm: m.warm,
    prewarm: m.prewarm,
    blobs: m.blobs,
    ...(m.ns ? { ns: m.ns } : {}),
  }
}

/** The addresses to advertise: without /p2p/, deduplicated, loopback only when there is nothing else. */
export function advertised(addrs: Multiaddr[]): string[] {
  const all = [...new Set(addrs.map((a) => a.toString().replace(/\/p2p\/[^/]+$/, '')))]
  const outside = all.filter((a) => !/^\/(ip4\/127\.|ip6\/::1\/)/.test(a))
  return outside.length > 0 ? outside : all
}
