import { fnv1a } from '../placement/rendezvous.ts'
import { applyDelta, type PeerState } from './delta.ts'
import type { ClusterMessage, DeltaHeartbeat, FullHeartbeat } from './messages.ts'

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
  /** The sender's probe period: a suspect is probed again this often. */
  periodMs: number
  /** The last full heartbeat: deltas apply to it. */
  baseSeq: number
  base: PeerState
  /** Seq of the last full or delta applied (push-pull compares it), and those messages. */
  stateSeq: number
  full: FullHeartbeat
  delta?: DeltaHeartbeat
  since: number
  probeFailed: boolean
  probing: boolean
  lastProbe: number
  /** Another member reported it dead: a failed probe of ours confirms at once. */
  rumored: boolean
}

export interface MembershipInit {
  /** With `deadMs`: a suspect whose probe failed is dead `deadMs − suspectMs` after the suspicion. */
  suspectMs: number
  deadMs: number
  removeMs: number
}

export type Verdict = 'new' | 'applied' | 'liveness' | 'stale' | 'unknown'

/** A member's state as push-pull carries it: its last full message and the delta applied since. */
export interface MemberRecord {
  full: FullHeartbeat
  delta?: DeltaHeartbeat
}

const TOMBSTONES = 10_000

/**
 * The membership state machine (SWIM, pure, clock injected). Liveness comes from probes, not from
 * silence (members send nothing while idle): a failed probe (ours, direct then indirect) makes a
 * member suspect, and a suspect whose own probe failed is dead after the suspicion timeout unless it
 * refutes (anything newer from it: its seq is its incarnation). A suspicion heard from another
 * member makes it suspect here too, probed once when the suspicion has run unrefuted; a dead report
 * makes us probe it at once, and our failed probe confirms it. A leave is immediate; a member that speaks again, or
 * answers a probe, is alive.
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

  receive(msg: ClusterMessage): { verdict: Verdict; member?: Member; target?: Member } {
    if (msg.seq <= this.lastSeq(msg.peer)) return { verdict: 'stale' }
    const now = this.#now()
    const m = this.#members.get(msg.peer)
    if (msg.t === 'full') {
      const { member, isNew } = this.#applyFull(msg, now)
      this.#heard(member, msg, now)
      return { verdict: isNew ? 'new' : 'applied', member }
    }
    if (!m) return { verdict: 'unknown' }
    if (msg.t === 'down' || msg.t === 'suspect') {
      m.seq = msg.seq
      m.lastHeard = now
      const target = this.#members.get(msg.target)
      if (!target || target.seq > msg.targetSeq || (target.state !== 'alive' && target.state !== 'suspect'))
        return { verdict: 'liveness', member: m }
      if (msg.t === 'down') {
        target.rumored = true
        if (!target.probing) target.lastProbe = 0
      } else if (target.state === 'alive') this.#set(target, 'suspect', now)
      return { verdict: 'liveness', member: m, target }
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
    this.#applyDelta(m, msg)
    return { verdict: 'applied', member: m }
  }

  /**
   * A member's record from a push-pull partner: applied when its state is newer than ours. Newer
   * than anything heard from the member, it is also liveness (the member spoke since).
   */
  merge(r: MemberRecord): { verdict: Verdict; member?: Member } {
    const peer = r.full.peer
    const latest = Math.max(r.full.seq, r.delta?.seq ?? 0)
    const known = this.#members.get(peer)?.stateSeq ?? this.#tombstones.get(peer) ?? 0
    if (latest <= known) return { verdict: 'stale' }
    const now = this.#now()
    let m = this.#members.get(peer)
    let isNew = false
    if (!m || r.full.seq > m.baseSeq) ({ member: m, isNew } = this.#applyFull(r.full, now))
    if (r.delta && r.delta.peer === peer && r.delta.base === m.baseSeq && r.delta.seq > m.stateSeq)
      this.#applyDelta(m, r.delta)
    if (latest > m.seq) {
      m.seq = latest
      m.hlc = r.delta && r.delta.seq === latest ? r.delta.hlc : r.full.hlc
      m.lastHeard = now
      if (m.state !== 'alive') this.#set(m, 'alive', now)
    }
    return { verdict: isNew ? 'new' : 'applied', member: m }
  }

  /** What push-pull sends for a member. */
  record(peerId: string): MemberRecord | undefined {
    const m = this.#members.get(peerId)
    return m ? { full: m.full, ...(m.delta ? { delta: m.delta } : {}) } : undefined
  }

  /** A probe answered (ok) or not. Returns the member when its state changed. */
  probeResult(peerId: string, ok: boolean): Member | undefined {
    const m = this.#members.get(peerId)
    if (!m) return undefined
    const now = this.#now()
    m.probing = false
    m.probeFailed = !ok
    if (ok) {
      m.lastAck = now
      m.rumored = false
      // It answered: alive, even after a dead verdict (a healed partition); a left member stays left.
      return m.state === 'suspect' || m.state === 'dead' ? this.#set(m, 'alive', now) : undefined
    }
    if (m.rumored && (m.state === 'alive' || m.state === 'suspect')) return this.#set(m, 'dead', now)
    if (m.state === 'alive') return this.#set(m, 'suspect', now)
    return undefined
  }

  /** Asks for a probe of a peer (its connection closed, say) at the next tick. */
  doubt(peerId: string): void {
    const m = this.#members.get(peerId)
    if (m?.state === 'alive' && !m.probing) m.lastProbe = 0
  }

  /** Advances time: returns state changes, the peers to probe now, and the removed peers. */
  tick(): { changed: Member[]; probe: string[]; removed: string[] } {
    const now = this.#now()
    const out = { changed: [] as Member[], probe: [] as string[], removed: [] as string[] }
    const suspicionMs = Math.max(0, this.#init.deadMs - this.#init.suspectMs)
    for (const m of this.#members.values()) {
      if (m.state === 'suspect' && m.probeFailed && now - m.since >= suspicionMs)
        out.changed.push(this.#set(m, 'dead', now))
      // A suspect we accused is probed again each period; one heard of from another only once its
      // suspicion has run without a refutation (one probe per member, not a storm per notice).
      const wantsProbe =
        (m.state === 'suspect' && m.probeFailed && now - m.lastProbe >= m.periodMs) ||
        (m.state === 'suspect' && !m.probeFailed && now - m.since >= suspicionMs && m.lastProbe <= m.since) ||
        ((m.state === 'alive' || m.rumored) && m.lastProbe === 0)
      if (wantsProbe && !m.probing) {
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

  #applyFull(msg: FullHeartbeat, now: number): { member: Member; isNew: boolean } {
    const state: PeerState = {
      addrs: msg.addrs,
      capacity: msg.cap,
      warm: msg.warm,
      prewarm: msg.prewarm,
      blobs: msg.blobs,
      ns: msg.ns ?? {},
      q: msg.q ?? {},
    }
    let m = this.#members.get(msg.peer)
    const isNew = !m
    m ??= {
      peerId: msg.peer,
      idHash: fnv1a(msg.peer),
      seq: 0,
      hlc: msg.hlc,
      lastHeard: now,
      ...blankProbe(now),
      ...state,
      base: state,
    } as Member
    const before = isNew ? {} : m.warm
    Object.assign(m, state, {
      base: state,
      baseSeq: msg.seq,
      stateSeq: msg.seq,
      full: msg,
      delta: undefined,
      agentVersion: msg.ver,
      periodMs: msg.iv,
    })
    this.#indexWarm(m, before)
    if (isNew) {
      this.#members.set(m.peerId, m)
      this.#snapshot = null
      this.#version++
    }
    this.#tombstones.delete(m.peerId)
    return { member: m, isNew }
  }

  #applyDelta(m: Member, msg: DeltaHeartbeat): void {
    const before = m.warm
    Object.assign(m, applyDelta(m.base, msg), { stateSeq: msg.seq, delta: msg })
    this.#indexWarm(m, before)
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
