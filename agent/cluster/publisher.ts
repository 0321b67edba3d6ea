import type { Logger } from '../log.ts'
import type { HybridClock } from '../store/hlc.ts'
import type { CapacitySampler, LocalCapacity } from './capacity.ts'
import { boundCounts, diffState, heartbeatPeriodMs, type PeerState } from './delta.ts'
import type { Gossip } from './gossip.ts'
import type { MemberRecord } from './membership.ts'
import {
  type Capacity,
  type ClusterMessage,
  type DeltaHeartbeat,
  encodeMessage,
  type FullHeartbeat,
  HEARTBEAT_TOPIC,
  LIMITS,
} from './messages.ts'
import type { GossipStats } from './validate.ts'

/** What the invoker reports; the cluster publishes it when it changes. */
export interface LocalState {
  capacity: LocalCapacity
  /** 'namespace/name@version' → its containers on this node, busy ones included. */
  warm: Record<string, number>
  /** 'nodejs:24@256' → idle prewarmed containers. */
  prewarm: Record<string, number>
  /** sha256 of code blobs held (bounded; a digest when large). */
  blobs: string[]
  /**
   * Per-namespace load of activations received on the node: `ns` → in flight, `ns/min` → admitted
   * in the current minute (a namespace has no `/`). Every node sums them for per-namespace limits.
   */
  ns?: Record<string, number>
  /** The node's share of the durable queue: depth per priority, oldest waits, dead letters (agent/queue/advert.ts). */
  q?: Record<string, number>
}

export interface PublisherComponents {
  logger: Logger
  clock: HybridClock
  gossip: Gossip
  sampler: CapacitySampler
  stats: GossipStats
  localState: () => LocalState
  /** Announced addresses, and the number of live members (self included). */
  addrs: () => string[]
  members: () => number
}

export interface PublisherInit {
  peerId: string
  agentVersion: string
  /** The state is checked this often, and published at most this often (changes coalesce)… */
  heartbeatMs: number
  /** …or, in a large busy cluster, at most every N·1000/this ms: each node receives at most this many per second. */
  maxInboundPerSec: number
  fullEvery: number
  maxMessageBytes: number
}

/**
 * Publishes this node's state on gossip when it changes, not periodically: an idle node sends
 * nothing. A full message announces the node (at start, once someone hears it, and after a join);
 * then each change is a delta against the last full (a full again every `fullEvery` changes), at
 * most one per `heartbeatMs` (longer in a large cluster: `heartbeatPeriodMs`), changes in between
 * coalesced. Capacity figures that drift while idle
 * (CPU load, free memory) count as a change only past a threshold. Liveness is not its concern
 * (SWIM probes, swim.ts); repair of missed messages is push-pull's (sync.ts).
 */
export class StatePublisher {
  readonly #c: PublisherComponents
  readonly #init: PublisherInit
  #timer: NodeJS.Timeout | undefined
  #due = 0
  #running = false
  /** Full announcements still to send: the first may die at a relay whose gossip mesh is not formed yet. */
  #announce = 0
  #seq = 0
  #hlc = ''
  /** When the state was last published, and what it was. */
  #last = 0
  #sent: PeerState | undefined
  #sinceFull = 0
  #base: { msg: FullHeartbeat; state: PeerState } | undefined
  #delta: DeltaHeartbeat | undefined

  constructor(components: PublisherComponents, init: PublisherInit) {
    this.#c = components
    this.#init = init
  }

  /** Sequence and HLC of the last message published (the seq is this node's incarnation). */
  get seq(): number {
    return this.#seq
  }

  get hlc(): string {
    return this.#hlc
  }

  /** This node's state as the next message would carry it. */
  state(): PeerState {
    const local = this.#c.localState()
    return {
      addrs: this.#c.addrs().slice(0, LIMITS.addrs),
      capacity: this.#c.sampler.current(local.capacity),
      warm: boundCounts(local.warm, LIMITS.inventory, LIMITS.keyChars),
      prewarm: boundCounts(local.prewarm, LIMITS.inventory, LIMITS.keyChars),
      blobs: local.blobs.filter((b) => /^[0-9a-f]{64}$/.test(b)).slice(0, LIMITS.blobs),
      ns: boundCounts(local.ns ?? {}, LIMITS.inventory, LIMITS.keyChars),
      q: boundCounts(local.q ?? {}, 8, 2),
    }
  }

  /**
   * This node's record for push-pull: the last full message and the delta since. Before the first
   * announcement one is made (not published: the announcement will be newer), so the member a node
   * joins learns it from their first push-pull.
   */
  record(): MemberRecord {
    this.#base ??= this.#full(this.state(), { ...this.#head(), iv: this.#init.heartbeatMs })
    return { full: this.#base.msg, ...(this.#delta ? { delta: this.#delta } : {}) }
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#announce = ANNOUNCEMENTS
    this.#schedule(0)
  }

  stop(): void {
    this.#running = false
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** The local state changed: publish it soon (at most one message per `heartbeatMs`). */
  soon(): void {
    this.#schedule(Math.max(0, this.#last + this.#interval() - Date.now()))
  }

  /** Least time between two state messages. */
  #interval(): number {
    return heartbeatPeriodMs(this.#c.members(), this.#init)
  }

  /** Announce the whole state again (after a join): a full message as soon as a peer hears it. */
  announce(): void {
    this.#announce = ANNOUNCEMENTS
    this.#schedule(0)
  }

  /** Someone suspects or reported this node dead: publish something newer at once (SWIM refutation). */
  async refute(): Promise<void> {
    if (!this.#running || this.#announce === ANNOUNCEMENTS) return this.announce()
    await this.#publishState(this.state(), false)
  }

  /** Announces a graceful departure. */
  async leave(): Promise<void> {
    await this.#publish({ ...this.#head(), t: 'leave' })
  }

  /** Tells the cluster that our own probe found `target` dead (others confirm with theirs). */
  async down(target: string, targetSeq: number): Promise<void> {
    await this.#publish({ ...this.#head(), t: 'down', target, targetSeq })
  }

  /** Tells the cluster that `target` failed our probes (others probe it; it refutes if alive). */
  async suspect(target: string, targetSeq: number): Promise<void> {
    await this.#publish({ ...this.#head(), t: 'suspect', target, targetSeq })
  }

  #head() {
    return { v: 1 as const, peer: this.#init.peerId, seq: this.#nextSeq(), hlc: this.#c.clock.now() }
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return
    const due = Date.now() + delayMs
    if (this.#timer && this.#due <= due) return
    clearTimeout(this.#timer)
    this.#due = due
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#check()
        .catch((err) => this.#c.logger.warn({ err }, 'state publish failed'))
        .finally(() => this.#schedule(this.#init.heartbeatMs))
    }, delayMs)
    this.#timer.unref?.()
  }

  async #check(): Promise<void> {
    if (!this.#running) return
    if (this.#announce > 0) {
      // Nobody would hear it yet: announce once a peer is subscribed; again a few periods later.
      if (this.#c.gossip.topicPeers(HEARTBEAT_TOPIC).length === 0) return
      const wait =
        this.#announce < ANNOUNCEMENTS ? this.#last + ANNOUNCE_AGAIN * this.#init.heartbeatMs - Date.now() : 0
      if (wait > 0) return this.#schedule(wait)
      if ((await this.#publishState(this.state(), true)) > 0) this.#announce--
      return
    }
    const state = this.state()
    if (this.#sent && !changed(this.#sent, state)) return
    const wait = this.#last + this.#interval() - Date.now()
    if (wait > 0) return this.#schedule(wait)
    await this.#publishState(state, this.#sinceFull + 1 >= this.#init.fullEvery)
  }

  /** Publishes `state` as a full message or as a delta against the last full; returns the recipients. */
  async #publishState(state: PeerState, full: boolean): Promise<number> {
    const head = { ...this.#head(), iv: this.#init.heartbeatMs }
    this.#last = Date.now()
    this.#sent = state
    if (full || !this.#base) {
      this.#base = this.#full(state, head)
      this.#delta = undefined
      this.#sinceFull = 0
      return this.#publish(this.#base.msg)
    }
    const msg: DeltaHeartbeat = {
      ...head,
      t: 'delta',
      base: this.#base.msg.seq,
      ...diffState(this.#base.state, state),
    }
    this.#delta = msg
    this.#sinceFull++
    return this.#publish(msg)
  }

  /** A full message of `state`, trimmed to the size bound. */
  #full(
    state: PeerState,
    head: Omit<FullHeartbeat, 't' | 'ver' | 'addrs' | 'cap' | 'warm' | 'prewarm' | 'blobs'>,
  ) {
    const make = (s: PeerState): FullHeartbeat => ({
      ...head,
      t: 'full',
      ver: this.#init.agentVersion,
      addrs: s.addrs,
      cap: s.capacity,
      warm: s.warm,
      prewarm: s.prewarm,
      blobs: s.blobs,
      ...(s.ns && Object.keys(s.ns).length > 0 ? { ns: s.ns } : {}),
      ...(s.q && Object.keys(s.q).length > 0 ? { q: s.q } : {}),
    })
    let msg = make(state)
    // Too large: drop the least useful half of the lists until it fits.
    for (let i = 0; i < 16 && encodeMessage(msg).byteLength > this.#init.maxMessageBytes; i++) {
      state = shrink(state)
      msg = make(state)
    }
    return { msg, state }
  }

  async #publish(msg: ClusterMessage): Promise<number> {
    this.#hlc = msg.hlc
    const bytes = encodeMessage(msg)
    if (bytes.byteLength > this.#init.maxMessageBytes) {
      this.#c.logger.warn(
        { bytes: bytes.byteLength, max: this.#init.maxMessageBytes },
        'state message too large',
      )
      this.#sinceFull = this.#init.fullEvery
      return 0
    }
    this.#c.stats.published++
    this.#c.stats.bytesOut += bytes.byteLength
    return this.#c.gossip.publish(HEARTBEAT_TOPIC, bytes)
  }

  #nextSeq(): number {
    this.#seq = Math.max(this.#seq + 1, Date.now())
    return this.#seq
  }
}

/** Full announcements after a start or a join, `ANNOUNCE_AGAIN` periods apart. */
const ANNOUNCEMENTS = 2
const ANNOUNCE_AGAIN = 3

/** CPU load (points of percent) and free memory (share of the total) that make a change worth sending. */
const LOAD_STEP = 10
const MEM_FREE_STEP = 0.05

/** Whether `cur` differs from what was last sent enough to publish: exactly, but for drifting figures. */
export function changed(sent: PeerState, cur: PeerState): boolean {
  const d = diffState(sent, cur)
  if (d.addrs || d.warm || d.prewarm || d.blobs || d.ns || d.q) return true
  if (!d.cap) return false
  for (const k of Object.keys(d.cap) as Array<keyof Capacity>) {
    if (k === 'load' && Math.abs(cur.capacity.load - sent.capacity.load) < LOAD_STEP) continue
    if (
      k === 'memFreeMiB' &&
      Math.abs(cur.capacity.memFreeMiB - sent.capacity.memFreeMiB) <
        Math.max(64, cur.capacity.memTotalMiB * MEM_FREE_STEP)
    )
      continue
    return true
  }
  return false
}

function shrink(s: PeerState): PeerState {
  const half = (r: Record<string, number>) =>
    boundCounts(r, Math.floor(Object.keys(r).length / 2), LIMITS.keyChars)
  if (s.blobs.length > 0) return { ...s, blobs: s.blobs.slice(0, Math.floor(s.blobs.length / 2)) }
  return { ...s, warm: half(s.warm), prewarm: half(s.prewarm), addrs: s.addrs.slice(0, 4) }
}
