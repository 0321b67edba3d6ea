import type { PrivateKey, Stream, StreamHandler } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { errors } from '../errors.ts'
import type { ServiceState, Startable } from '../lifecycle.ts'
import { CapacitySampler } from './capacity.ts'
import { RpcChannels, serveChannel } from './channel.ts'
import { Connector } from './connector.ts'
import { dialTarget, isConnected, peerAddrs, stripPeer } from './dialer.ts'
import { createGossip, type Gossip } from './gossip.ts'
import type { ClusterComponents, ClusterInit, ClusterStats, MemberView } from './index.ts'
import { type Member, Membership } from './membership.ts'
import { HEARTBEAT_TOPIC } from './messages.ts'
import { type ClusterNode, createNode } from './node.ts'
import { type ClusterOptions, clusterOptionsSchema } from './options.ts'
import { StatePublisher } from './publisher.ts'
import { Receiver } from './receiver.ts'
import { SWIM_PROTOCOL, Swim } from './swim.ts'
import { GossipStats } from './validate.ts'
import { advertised, memberView, PlacementViewCache } from './view.ts'

const DIAL_TIMEOUT_MS = 5000
/** Largest SWIM frame: a push-pull carries the records the other side lacks (a joining node's: all). */
const SWIM_MAX_BYTES = 16 * 1024 * 1024

/**
 * A cluster member: the libp2p node, gossip, heartbeat and membership (README.md beside this
 * file); start/stop are safe to call twice, and a stopped member can start again.
 */
export class Cluster implements Startable {
  readonly peerId: string
  readonly #c: ClusterComponents
  readonly #opts: ClusterOptions
  readonly #privateKey: PrivateKey
  readonly #clusterKey: Uint8Array
  readonly #agentVersion: string
  readonly #stats = new GossipStats()
  readonly #membership: Membership
  readonly #sampler: CapacitySampler
  readonly #listeners = new Set<(m: MemberView) => void>()
  readonly #placementView = new PlacementViewCache()
  #state: ServiceState = 'new'
  #run:
    | {
        node: ClusterNode
        gossip: Gossip
        publisher: StatePublisher
        connector: Connector
        swim: Swim
        channels: RpcChannels
      }
    | undefined
  #controller = new AbortController()
  #ticker: NodeJS.Timeout | undefined
  #left = false
  /** Members currently suspect, counted once per suspicion. */
  readonly #suspected = new Set<string>()
  /** Members our own probes found unreachable: we announce their death when the suspicion expires. */
  readonly #accused = new Set<string>()
  #lastRefute = 0

  constructor(components: ClusterComponents, init: ClusterInit) {
    const { privateKey, clusterKey, agentVersion, ...options } = init
    this.#c = components
    this.#opts = clusterOptionsSchema.parse(options)
    this.#privateKey = privateKey
    this.#clusterKey = clusterKey
    this.#agentVersion = agentVersion
    this.peerId = peerIdFromPrivateKey(privateKey).toString()
    this.#membership = new Membership(this.#opts)
    this.#sampler = new CapacitySampler({ logger: components.logger }, { sampleMs: this.#opts.sampleMs })
  }

  async start(): Promise<void> {
    if (this.#state !== 'new' && this.#state !== 'stopped') return
    this.#state = 'starting'
    this.#controller = new AbortController()
    this.#left = false
    try {
      await this.#start()
      this.#state = 'running'
    } catch (err) {
      this.#state = 'running'
      await this.stop()
      throw err
    }
  }

  async #start(): Promise<void> {
    const { logger } = this.#c
    const o = this.#opts
    await this.#sampler.sample().catch((err) => logger.warn({ err }, 'capacity sample failed'))
    const node = await createNode({
      privateKey: this.#privateKey,
      clusterKey: this.#clusterKey,
      listen: o.listen,
      announce: o.announce,
      maxConnections: o.maxConnections,
      dialTimeoutMs: DIAL_TIMEOUT_MS,
      denyPeer: this.#c.denyPeer,
      gossip: {
        topics: [HEARTBEAT_TOPIC],
        maxDataBytes: Math.max(1024 * 1024, o.maxMessageBytes * 4),
        onUnsigned: () => this.#stats.drop('unsigned'),
      },
    })
    const gossip = createGossip(node.services.pubsub)
    const publisher = new StatePublisher(
      {
        logger,
        clock: this.#c.clock,
        gossip,
        sampler: this.#sampler,
        stats: this.#stats,
        localState: this.#c.localState,
        addrs: cachedAddrs(() => advertised(node.getMultiaddrs())),
        members: () => 1 + this.#liveMembers().length,
      },
      { peerId: this.peerId, agentVersion: this.#agentVersion, ...o },
    )
    const connector = new Connector(
      { logger, node, peerBook: this.#c.peerBook, members: () => this.#liveMembers() },
      { ...o, dialTimeoutMs: DIAL_TIMEOUT_MS, intervalMs: Math.min(1000, o.heartbeatMs) },
    )
    const channels = new RpcChannels(this, SWIM_PROTOCOL, { maxBytes: SWIM_MAX_BYTES })
    const swim = new Swim(
      {
        logger,
        membership: this.#membership,
        channels,
        stats: this.#stats,
        selfId: this.peerId,
        selfRecord: () => publisher.record(),
        isConnected: (peerId) => isConnected(node, peerId),
        changed: (m, accused) => this.#changed(m, accused),
        refute: () => this.#refute(0),
      },
      o,
    )
    this.#run = { node, gossip, publisher, connector, swim, channels }
    const receiver = new Receiver(
      {
        ...this.#c,
        membership: this.#membership,
        stats: this.#stats,
        emit: (m) => this.#emit(memberView(m)),
      },
      {
        maxMessageBytes: o.maxMessageBytes,
        selfId: this.peerId,
        onAccused: (targetSeq) => {
          swim.refuted()
          this.#refute(targetSeq)
        },
        onMissingBase: (peerId) => swim.syncSoon(peerId),
      },
    )
    await node.start()
    const server = { handle: (protocol: string, handler: StreamHandler) => node.handle(protocol, handler) }
    await serveChannel(server, SWIM_PROTOCOL, (body, from, signal) => swim.handle(body, from, signal), {
      maxBytes: SWIM_MAX_BYTES,
      timeoutMs: 4 * o.probeTimeoutMs,
      maxInflight: 64,
      onBusy: () => ({ ok: false }),
      logger,
    })
    gossip.validate(HEARTBEAT_TOPIC, (m) => receiver.validate(m))
    gossip.subscribe(HEARTBEAT_TOPIC, (m) => receiver.receive(m))
    // A peer we do not know, or think gone, connected: compare views with it now.
    gossip.onPeerSubscribed(HEARTBEAT_TOPIC, (peerId) => {
      if (this.#membership.get(peerId)?.state !== 'alive') swim.syncSoon(peerId)
    })
    node.addEventListener('peer:disconnect', (evt) => this.#membership.doubt(evt.detail.toString()))
    logger.info({ peerId: this.peerId, addrs: this.addresses() }, 'cluster node listening')
    publisher.start()
    connector.start()
    swim.start()
    const tickMs = Math.max(50, Math.min(250, Math.floor(o.heartbeatMs / 4)))
    this.#ticker = setInterval(() => this.#tick(), tickMs)
  }

  async stop(): Promise<void> {
    if (this.#state !== 'running') return
    this.#state = 'stopping'
    this.#controller.abort()
    clearInterval(this.#ticker)
    const run = this.#run
    this.#run = undefined
    run?.publisher.stop()
    run?.connector.stop()
    run?.swim.stop()
    run?.channels.closeAll()
    try {
      await run?.node.stop()
    } catch (err) {
      this.#c.logger.warn({ err }, 'libp2p stop failed')
    }
    this.#state = 'stopped'
  }

  /** Listening multiaddrs with /p2p/<peerId>, ready to give to `join` on another node. */
  addresses(): string[] {
    return this.#run?.node.getMultiaddrs().map((a) => a.toString()) ?? []
  }

  /** Connects to a member (multiaddr, or host:port) and persists it; the rest arrive by gossip. */
  async join(target: string, signal?: AbortSignal): Promise<{ peerId: string }> {
    const run = this.#running()
    const dialSignal = AbortSignal.any([
      this.#controller.signal,
      signal ?? AbortSignal.timeout(DIAL_TIMEOUT_MS),
    ])
    const peerId = await dialTarget({ logger: this.#c.logger, node: run.node }, target, dialSignal)
    if (peerId === this.peerId) throw errors.invalidArgument(`${target} is this node itself`)
    await this.#c.peerBook.put({ peerId, addrs: target.startsWith('/') ? [stripPeer(target)] : [target] })
    if (this.#left) {
      this.#left = false
      run.publisher.start()
      run.connector.start()
      run.swim.start()
    }
    run.publisher.announce()
    // Learn the whole view from the member joined, then once more from another (announcements in flight).
    run.swim.sync(peerId).finally(() => {
      const again = setTimeout(() => {
        const other = this.#liveMembers().find((m) => m.peerId !== peerId && isConnected(run.node, m.peerId))
        if (other && this.#run === run) run.swim.sync(other.peerId)
      }, 2 * this.#opts.heartbeatMs)
      again.unref?.()
    })
    return { peerId }
  }

  /** Announces a graceful departure (peers mark this node 'left' at once) and stops probing and publishing. */
  async leave(): Promise<void> {
    const run = this.#running()
    if (this.#left) return
    this.#left = true
    run.publisher.stop()
    run.connector.stop()
    run.swim.stop()
    await run.publisher.leave()
  }

  view(): MemberView[] {
    const self = this.#selfView()
    return [...(self ? [self] : []), ...this.#membership.members().map(memberView)]
  }

  /** What placement reads per invocation (view.ts, `PlacementViewCache`): no copies. */
  placementView(): ReturnType<PlacementViewCache['view']> {
    return this.#placementView.view(this.#membership, this.#selfView())
  }

  async hangUp(peerId: string): Promise<void> {
    await this.#run?.node.hangUp(peerIdFromString(peerId))
  }

  member(peerId: string): MemberView | undefined {
    if (peerId === this.peerId) return this.#selfView()
    const m = this.#membership.get(peerId)
    return m ? memberView(m) : undefined
  }

  /** Called on every heartbeat applied and every state change; returns the unsubscribe function. */
  onChange(listener: (m: MemberView) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  async handle(protocol: string, handler: StreamHandler): Promise<void> {
    await this.#running().node.handle(protocol, handler)
  }

  /**
   * A stream of `protocol` to a member. By default the protocol is selected optimistically (its name
   * travels with the first message: one round trip less; a peer that does not speak it fails the
   * first read); `negotiateFully` waits for the peer's agreement, for long-lived streams.
   */
  async dialProtocol(
    peerId: string,
    protocol: string | readonly string[],
    signal: AbortSignal,
    opts: { negotiateFully?: boolean } = {},
  ): Promise<Stream> {
    const { node } = this.#running()
    const m = this.#membership.get(peerId)
    const target = isConnected(node, peerId) || !m ? peerIdFromString(peerId) : peerAddrs(peerId, m.addrs)
    try {
      // A list (newest first) is negotiated with multistream-select: the peer takes the first it speaks.
      return await node.dialProtocol(target, typeof protocol === 'string' ? protocol : [...protocol], {
        signal,
        negotiateFully: opts.negotiateFully ?? false,
      })
    } catch (err) {
      throw errors.peerUnreachable(
        `could not open ${[protocol].flat().join(' or ')} to ${peerId}: ${(err as Error).message}`,
        {
          cause: err,
        },
      )
    }
  }

  /** The local state changed (warm inventory, say): publish it soon. */
  publishNow(): void {
    this.#run?.publisher.soon()
  }

  stats(): ClusterStats {
    const run = this.#run
    return {
      ...this.#stats.snapshot(),
      connections: run?.node.getConnections().length ?? 0,
      topicPeers: run?.gossip.topicPeers(HEARTBEAT_TOPIC).length ?? 0,
      meshPeers: run?.gossip.meshPeers(HEARTBEAT_TOPIC).length ?? 0,
    }
  }

  #running() {
    if (!this.#run || this.#state !== 'running') throw errors.unavailable('the cluster node is not running')
    return this.#run
  }

  #liveMembers() {
    return this.#membership
      .members()
      .filter((m) => m.state === 'alive' || m.state === 'suspect')
      .map((m) => ({ peerId: m.peerId, addrs: m.addrs }))
  }

  #selfView(): MemberView | undefined {
    const run = this.#run
    if (!run) return undefined
    const s = run.publisher.state()
    return {
      peerId: this.peerId,
      ...s,
      state: this.#left ? 'left' : 'alive',
      self: true,
      lastHeard: Date.now(),
      seq: run.publisher.seq,
      hlc: run.publisher.hlc,
      agentVersion: this.#agentVersion,
    }
  }

  #tick(): void {
    const { changed, probe, removed } = this.#membership.tick()
    for (const m of changed) this.#changed(m, false)
    for (const peerId of probe)
      this.#run?.swim
        .probe(peerId)
        .catch((err) => this.#c.logger.error({ err, peerId }, 'probe handling failed'))
    for (const peerId of removed)
      this.#c.peerBook
        .remove(peerId)
        .catch((err) => this.#c.logger.warn({ err, peerId }, 'peer book remove failed'))
  }

  /**
   * A member's state changed. Our own probes failed it (`accused`): tell the others, who probe it
   * themselves (it refutes if alive); when that suspicion ends in death, announce it.
   */
  #changed(m: Member, accused: boolean): void {
    this.#emit(memberView(m))
    const publisher = this.#run?.publisher
    if (!publisher) return
    const warn = (what: string) => (err: unknown) => this.#c.logger.warn({ err, peerId: m.peerId }, what)
    if (m.state === 'suspect' && accused) {
      this.#accused.add(m.peerId)
      publisher.suspect(m.peerId, m.seq).catch(warn('could not announce a suspicion'))
    } else if (m.state === 'dead' && this.#accused.delete(m.peerId))
      publisher.down(m.peerId, m.seq).catch(warn('could not announce a dead peer'))
    else if (m.state !== 'suspect') this.#accused.delete(m.peerId)
  }

  /** Someone thinks this node suspect or dead (as of our seq `targetSeq`): publish something newer. */
  #refute(targetSeq: number): void {
    const publisher = this.#run?.publisher
    if (!publisher || this.#left) return
    if (publisher.seq > targetSeq && Date.now() - this.#lastRefute < this.#opts.heartbeatMs) return
    this.#lastRefute = Date.now()
    publisher.refute().catch((err) => this.#c.logger.warn({ err }, 'could not refute a suspicion'))
  }

  #emit(view: MemberView): void {
    if (view.state !== 'suspect') this.#suspected.delete(view.peerId)
    else if (!this.#suspected.has(view.peerId)) {
      this.#suspected.add(view.peerId)
      this.#stats.suspicions++
    }
    for (const l of this.#listeners) {
      try {
        l(view)
      } catch (err) {
        this.#c.logger.error({ err, peerId: view.peerId }, 'cluster listener failed')
      }
    }
  }
}

/**
 * This node's addresses are read for every heartbeat and every placement (the view includes this
 * node), and libp2p rebuilds them from its transports each time; they change only when a listener
 * or an announce does, so an answer up to a second old is fine (an empty one, before listening, is
 * not kept).
 */
const ADDRS_CACHE_MS = 1000

function cachedAddrs(read: () => string[]): () => string[] {
  let value: string[] = []
  let at = Number.NEGATIVE_INFINITY
  return () => {
    const now = performance.now()
    if (value.length === 0 || now - at >= ADDRS_CACHE_MS) {
      value = read()
      at = now
    }
    return value
  }
}
