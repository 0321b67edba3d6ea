import type { Logger } from '../log.ts'
import type { HybridClock } from '../store/hlc.ts'
import type { PeerBook } from './dialer.ts'
import type { GossipMessage, Verdict } from './gossip.ts'
import type { Member, Membership } from './membership.ts'
import { type ClusterMessage, decodeMessage } from './messages.ts'
import { type GossipStats, validateMessage } from './validate.ts'

export interface ReceiverComponents {
  logger: Logger
  clock: HybridClock
  peerBook: PeerBook
  membership: Membership
  stats: GossipStats
  emit: (m: Member) => void
}

export interface ReceiverInit {
  maxMessageBytes: number
  selfId: string
  /** A member reports this node suspect or dead: refute. */
  onAccused: (targetSeq: number) => void
  /** A delta from a member whose full message we lack: repair by push-pull with it. */
  onMissingBase: (peerId: string) => void
}

/**
 * The heartbeat topic's validator and handler: drops what is invalid (counted by reason), applies
 * the rest to the membership, and persists members' addresses so a restart can rejoin.
 */
export class Receiver {
  readonly #c: ReceiverComponents
  readonly #init: ReceiverInit
  /** Messages the validator already parsed, handed to the handler without parsing twice. */
  readonly #parsed = new WeakMap<Uint8Array, ClusterMessage>()
  readonly #persisted = new Map<string, string>()

  constructor(components: ReceiverComponents, init: ReceiverInit) {
    this.#c = components
    this.#init = init
  }

  validate(m: GossipMessage): Verdict {
    const v = validateMessage(m.data, m.from, {
      maxBytes: this.#init.maxMessageBytes,
      lastSeq: (peerId) => this.#c.membership.lastSeq(peerId),
    })
    if (!v.ok) {
      this.#c.stats.drop(v.reason)
      this.#c.logger.debug(
        { from: m.from, reason: v.reason, bytes: m.data.byteLength },
        'gossip message dropped',
      )
      // A stale message may be an honest relay's late copy: not propagated, but not penalised either.
      return v.reason === 'stale' ? 'ignore' : 'reject'
    }
    this.#parsed.set(m.data, v.msg)
    return 'accept'
  }

  receive(m: GossipMessage): void {
    let msg = this.#parsed.get(m.data)
    if (!msg) {
      const decoded = decodeMessage(m.data, this.#init.maxMessageBytes)
      if (!decoded.ok) return
      msg = decoded.msg
    }
    this.#c.stats.received++
    this.#c.stats.bytesIn += m.data.byteLength
    try {
      this.#c.clock.update(msg.hlc)
    } catch (err) {
      this.#c.logger.debug({ err }, 'bad HLC in heartbeat')
    }
    if ((msg.t === 'suspect' || msg.t === 'down') && msg.target === this.#init.selfId)
      this.#init.onAccused(msg.targetSeq)
    const { verdict, member, target } = this.#c.membership.receive(msg)
    if (verdict === 'stale') this.#c.stats.drop('stale')
    if ((verdict === 'liveness' || verdict === 'unknown') && msg.t === 'delta')
      this.#init.onMissingBase(msg.peer)
    if (target) this.#c.emit(target)
    if (!member) return
    this.#c.emit(member)
    this.#persist(member)
  }

  #persist(m: Member): void {
    const key = m.addrs.join(' ')
    if (m.state !== 'alive' || m.addrs.length === 0 || this.#persisted.get(m.peerId) === key) return
    this.#persisted.set(m.peerId, key)
    this.#c.peerBook
      .put({ peerId: m.peerId, addrs: m.addrs })
      .catch((err) => this.#c.logger.warn({ err, peerId: m.peerId }, 'could not persist a peer'))
  }
}
