import type { Logger } from '../log.ts'
import type { HybridClock } from '../store/hlc.ts'
import type { CapacitySampler, LocalCapacity } from './capacity.ts'
import { boundCounts, diffState, heartbeatPeriodMs, type PeerState } from './delta.ts'
import type { Gossip } from './gossip.ts'
import { type ClusterMessage, encodeMessage, HEARTBEAT_TOPIC, LIMITS } from './messages.ts'
import type { GossipStats } from './validate.ts'

/** What the invoker reports each heartbeat. */
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

export interface HeartbeatComponents {
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

export interface HeartbeatInit {
  peerId: string
  agentVersion: string
  heartbeatMs: number
  maxInboundPerSec: number
  fullEvery: number
  maxMessageBytes: number
}

/**
 * Publishes this node's heartbeat: a full one every `fullEvery` periods (and when a new member
 * appears), a delta against the last full in between. The period grows with cluster size (see
 * `heartbeatPeriodMs`); `soon()` brings the next one forward, at most to half a period after the last.
 */
export class Heartbeat {
  readonly #c: HeartbeatComponents
  readonly #init: HeartbeatInit
  #timer: NodeJS.Timeout | undefined
  #due = 0
  #running = false
  #seq = 0
  #hlc = ''
  #last = 0
  #sinceFull = Number.POSITIVE_INFINITY
  #wantFull = true
  #base: { seq: number; state: PeerState } | undefined

  constructor(components: HeartbeatComponents, init: HeartbeatInit) {
    this.#c = components
    this.#init = init
  }

  /** Sequence and HLC of the last message published. */
  get seq(): number {
    return this.#seq
  }

  get hlc(): string {
    return this.#hlc
  }

  period(): number {
    return heartbeatPeriodMs(this.#c.members(), this.#init)
  }

  /** This node's state as the next heartbeat would carry it. */
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

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#schedule(0)
  }

  stop(): void {
    this.#running = false
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Publishes soon (state changed); `full` when a new member must learn everything about us. */
  soon(full = false): void {
    if (full) this.#wantFull = true
    const period = this.period()
    const at = full ? Date.now() + Math.random() * Math.min(period / 2, 500) : this.#last + period / 2
    this.#schedule(Math.max(0, at - Date.now()))
  }

  /** Announces a graceful departure. */
  async leave(): Promise<void> {
    await this.#publish({
      v: 1,
      t: 'leave',
      peer: this.#init.peerId,
      seq: this.#nextSeq(),
      hlc: this.#c.clock.now(),
    })
  }

  /** Tells the cluster that our own probe found `target` dead (others confirm with theirs). */
  async down(target: string, targetSeq: number): Promise<void> {
    const head = { v: 1 as const, peer: this.#init.peerId, seq: this.#nextSeq(), hlc: this.#c.clock.now() }
    await this.#publish({ ...head, t: 'down', target, targetSeq })
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return
    const due = Date.now() + delayMs
    if (this.#timer && this.#due <= due) return
    clearTimeout(this.#timer)
    this.#due = due
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#beat()
      this.#schedule(this.period() * (0.9 + Math.random() * 0.2))
    }, delayMs)
    this.#timer.unref?.()
  }

  #beat(): void {
    let state = this.state()
    const iv = this.period()
    const head = {
      v: 1 as const,
      peer: this.#init.peerId,
      seq: this.#nextSeq(),
      hlc: this.#c.clock.now(),
      iv,
    }
    let msg: ClusterMessage
    if (!this.#base || this.#wantFull || this.#sinceFull + 1 >= this.#init.fullEvery) {
      const full = (s: PeerState): ClusterMessage => ({
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
      msg = full(state)
      // Too large: drop the least useful half of the lists until it fits.
      for (let i = 0; i < 16 && encodeMessage(msg).byteLength > this.#init.maxMessageBytes; i++) {
        state = shrink(state)
        msg = full(state)
      }
      this.#base = { seq: head.seq, state }
      this.#sinceFull = 0
      this.#wantFull = false
    } else {
      msg = { ...head, t: 'delta', base: this.#base.seq, ...diffState(this.#base.state, state) }
      this.#sinceFull++
    }
    this.#publish(msg).catch((err) => this.#c.logger.warn({ err }, 'heartbeat publish failed'))
  }

  async #publish(msg: ClusterMessage): Promise<void> {
    this.#hlc = msg.hlc
    const bytes = encodeMessage(msg)
    if (bytes.byteLength > this.#init.maxMessageBytes) {
      this.#c.logger.warn({ bytes: bytes.byteLength, max: this.#init.maxMessageBytes }, 'heartbeat too large')
      this.#wantFull = true
      return
    }
    this.#last = Date.now()
    this.#c.stats.published++
    this.#c.stats.bytesOut += bytes.byteLength
    await this.#c.gossip.publish(HEARTBEAT_TOPIC, bytes)
  }

  #nextSeq(): number {
    this.#seq = Math.max(this.#seq + 1, Date.now())
    return this.#seq
  }
}

function shrink(s: PeerState): PeerState {
  const half = (r: Record<string, number>) =>
    boundCounts(r, Math.floor(Object.keys(r).length / 2), LIMITS.keyChars)
  if (s.blobs.length > 0) return { ...s, blobs: s.blobs.slice(0, Math.floor(s.blobs.length / 2)) }
  return { ...s, warm: half(s.warm), prewarm: half(s.prewarm), addrs: s.addrs.slice(0, 4) }
}
