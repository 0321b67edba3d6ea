import { fnv1a } from '../placement/rendezvous.ts'
import { applyDelta, type PeerState } from './delta.ts'
import type { ClusterMessage } from './messages.ts'

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left'

export interface Member extends PeerState {
  peerId: string
  /** `fnv1a(peerId)`: the member's rendezvous hash, computed once. */
  idHash: number
  state: MemberState
  agentVersion: string
  seq: number
  hlc: string
  /** Local time (ms) of the last message from this peer, and of the last answered probe. */
  lastHeard: number
  lastAck: number
  /** The sender's heartbeat period: failure timeouts scale with it. */
  periodMs: number
  /** The last full heartbeat: deltas apply to it. */
  baseSeq: number
  base: PeerState
  since: number
  probeFailed: boolean
  probing: boolean
  lastProbe: number
  /** Another member reported it dead: a failed probe of ours confirms at once. */
  rumored: boolean
}

export interface MembershipInit {
  suspectMs: number
  deadMs: number
  removeMs: number
}

export type Verdict = 'new' | 'applied' | 'liveness' | 'stale' | 'unknown'

/** Timeouts for a peer whose heartbeat period is `periodMs`: 3 missed periods at least before suspicion. */
export function failureTimeouts(
  periodMs: number,
  o: MembershipInit,
): { suspectAfter: number; deadAfter: number } {
  const suspectAfter = Math.max(o.suspectMs, 3 * periodMs)
  return { suspectAfter, deadAfter: Math.max(o.deadMs, suspectAfter + o.deadMs - o.suspectMs) }
}

const TOMBSTONES = 10_000

/**
 * The membership state machine (SWIM-like, pure, clock injected): alive → suspect (nothing heard
 * for suspectAfter, or a failed probe) → direct probe → dead (probe failed and nothing heard for
 * deadAfter) → removed after removeMs. A leave is immediate; a peer that speaks again is alive.
 */
export class Membership {
  readonly #members = new Map<string, Member>()
  /** `members()` as last built; rebuilt after a member is added or removed (they change in place). */
  #snapshot: Member[] | null = null
  /** Bumped whenever a member joins, goes, or changes state: what per-function rankings depend on. */
  #version = 0
  /** Warm-inventory key (`namespace/name@version`) to the members whose last heartbeat lists it. */
  readonly #warm = new Map<string, Set<Member>>()
  /** Last sequence of removed peers, so an old message cannot resurrect them. */
  readonly #tombstones = new Map<string, number>()
  readonly #init: MembershipInit
  readonly #now: () => number

  constructor(init: MembershipInit, now: () => number = Date.now) {
    this.#init = init
    this.#now = now
  }

  get(peerId: string): Member | undefined {
    return this.#members.get(peerId)
  }

  members(): Member[] {
    return [...this.#members.values()]
  }

  /**
   * The members, as live objects (each updated in place by every heartbeat): no copy per call, for
   * placement's per-invocation read. Read-only, and not to be kept past the current turn.
   */
  live(): readonly Member[] {
    this.#snapshot ??= [...this.#members.values()]
    return this.#snapshot
  }

  /** Changes whenever the set of members or any member's state changes. */
  get version(): number {
    return this.#version
  }

  /** The members whose last heartbeat shows a container of `warmKey` (any state). */
  warmFor(warmKey: string): ReadonlySet<Member> {
    return this.#warm.get(warmKey) ?? NONE
  }

  /** Highest sequence seen from a peer (replay protection). */
  lastSeq(peerId: string): number {
    return this.#members.get(peerId)?.seq ?? this.#tombstones.get(peerId) ?? 0
  }

  receive(msg: ClusterMessage): { verdict: Verdict; member?: Member } {
    if (msg.seq <= this.lastSeq(msg.peer)) return { verdict: 'stale' }
    const now = this.#now()
    let m = this.#members.get(msg.peer)
    if (msg.t === 'full') {
      const state: PeerState = {
        addrs: msg.addrs,
        capacity: msg.cap,
        warm: msg.warm,
        prewarm: msg.prewarm,
        blobs: msg.blobs,
        ns: msg.ns ?? {},
        q: msg.q ?? {},
      }
      const isNew = !m
      m ??= { peerId: msg.peer, idHash: fnv1a(msg.peer), ...blankProbe(now), ...state, base: state } as Member
      const before = isNew ? {} : m.warm
      Object.assign(m, state, { base: state, baseSeq: msg.seq, agentVersion: msg.ver, periodMs: msg.iv })
      this.#indexWarm(m, before)
      this.#heard(m, msg, now)
      if (isNew) {
        this.#members.set(m.peerId, m)
        this.#snapshot = null
        this.#version++
      }
      this.#tombstones.delete(m.peerId)
      return { verdict: isNew ? 'new' : 'applied', member: m }
    }
    if (!m) return { verdict: 'unknown' }
    if (msg.t === 'down') {
      m.seq = msg.seq
      m.lastHeard = now
      const target = this.#members.get(msg.target)
      if (target && target.seq <= msg.targetSeq && (target.state === 'alive' || target.state === 'suspect')) {
        target.rumored = true
        if (!target.probing) target.lastProbe = 0
      }
      return { verdict: 'liveness', member: m }
    }
    if (msg.t === 'leave') {
      m.seq = msg.seq
      m.hlc = msg.hlc
      m.lastHeard = now
      this.#set(m, 'left', now)
      return { verdict: 'applied', member: m }
    }
    m.periodMs = msg.iv
    this.#heard(m, msg, now)
    if (msg.base !== m.baseSeq) return { verdict: 'liveness', member: m }
    const before = m.warm
    Object.assign(m, applyDelta(m.base, msg))
    this.#indexWarm(m, before)
    return { verdict: 'applied', member: m }
  }

  /** A direct probe answered (ok) or not. Returns the member when its state changed. */
  probeResult(peerId: string, ok: boolean): Member | undefined {
    const m = this.#members.get(peerId)
    if (!m) return undefined
    const now = this.#now()
    m.probing = false
    m.probeFailed = !ok
    if (ok) m.lastAck = now
    if (ok) m.rumored = false
    if (!ok && m.rumored && (m.state === 'alive' || m.state === 'suspect')) return this.#set(m, 'dead', now)
    if (ok && m.state === 'suspect') return this.#set(m, 'alive', now)
    if (!ok && m.state === 'alive') return this.#set(m, 'suspect', now)
    return undefined
  }

  /** Asks for a probe of a peer (its connection closed, say) at the next tick. */
  doubt(peerId: string): void {
    const m = this.#members.get(peerId)
    if (m?.state === 'alive') m.lastProbe = 0
  }

  /** Advances time: returns state changes, the peers to probe now, and the removed peers. */
  tick(): { changed: Member[]; probe: string[]; removed: string[] } {
    const now = this.#now()
    const out = { changed: [] as Member[], probe: [] as string[], removed: [] as string[] }
    for (const m of this.#members.values()) {
      const { suspectAfter, deadAfter } = failureTimeouts(m.periodMs, this.#init)
      const quiet = now - Math.max(m.lastHeard, m.lastAck)
      if (m.state === 'alive' && quiet >= suspectAfter) out.changed.push(this.#set(m, 'suspect', now))
      if (m.state === 'suspect') {
        const suspectFor = now - m.since
        if (m.probeFailed && (quiet >= deadAfter || suspectFor >= this.#init.deadMs - this.#init.suspectMs))
          out.changed.push(this.#set(m, 'dead', now))
      }
      const wantsProbe =
        m.state === 'suspect' ||
        (m.state === 'alive' && m.lastProbe === 0) ||
        (m.rumored && m.lastProbe === 0)
      if (wantsProbe && !m.probing && now - m.lastProbe >= Math.min(m.periodMs, suspectAfter / 2)) {
        m.probing = true
        m.lastProbe = now
        out.probe.push(m.peerId)
      }
      if ((m.state === 'dead' || m.state === 'left') && now - m.since >= this.#init.removeMs) {
        this.#members.delete(m.peerId)
        this.#snapshot = null
        this.#version++
        this.#indexWarm({ ...m, warm: {} }, m.warm, m)
        this.#tombstones.set(m.peerId, m.seq)
        if (this.#tombstones.size > TOMBSTONES) this.#tombstones.delete(this.#tombstones.keys().next().value!)
        out.removed.push(m.peerId)
      }
    }
    return out
  }

  /** Moves `m` in the warm index from the keys of `before` to those of its current inventory. */
  #indexWarm(next: Pick<Member, 'warm'>, before: Record<string, number>, m = next as Member): void {
    if (before === next.warm) return
    for (const key in before) {
      if ((next.warm[key] ?? 0) > 0) continue
      const set = this.#warm.get(key)
      set?.delete(m)
      if (set?.size === 0) this.#warm.delete(key)
    }
    for (const key in next.warm) {
      if ((next.warm[key] ?? 0) <= 0 || (before[key] ?? 0) > 0) continue
      let set = this.#warm.get(key)
      if (!set) {
        set = new Set()
        this.#warm.set(key, set)
      }
      set.add(m)
    }
  }

  #heard(m: Member, msg: ClusterMessage, now: number): void {
    m.seq = msg.seq
    m.hlc = msg.hlc
    m.lastHeard = now
    if (m.state !== 'alive') this.#set(m, 'alive', now)
  }

  #set(m: Member, state: MemberState, now: number): Member {
    if (m.state !== state) this.#version++
    m.state = state
    m.since = now
    if (state !== 'suspect') m.probeFailed = false
    if (state === 'alive') m.rumored = false
    return m
  }
}

const NONE: ReadonlySet<Member> = new Set()

function blankProbe(now: number) {
  return {
    state: 'alive',
    since: now,
    lastAck: 0,
    probeFailed: false,
    probing: false,
    lastProbe: now,
    rumored: false,
  }
}
