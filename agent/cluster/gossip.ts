/**
 * Gossip behind our own small interface (subscribe, publish, validate). Today it is
 * `@libp2p/gossipsub` with strict signing; swapping the implementation is a change of this file only.
 */
import { type GossipSub, gossipsub, TopicValidatorResult } from '@libp2p/gossipsub'

export type Verdict = 'accept' | 'reject' | 'ignore'

export interface GossipMessage {
  topic: string
  data: Uint8Array
  /** The verified signer's peer id; undefined for an unsigned message. */
  from?: string
}

export interface Gossip {
  subscribe(topic: string, handler: (m: GossipMessage) => void): void
  unsubscribe(topic: string): void
  /** Publishes to the topic; resolves with the number of direct recipients (0 is not an error). */
  publish(topic: string, data: Uint8Array): Promise<number>
  /** Runs before delivery and before forwarding: a rejected message is not propagated. */
  validate(topic: string, fn: (m: GossipMessage) => Verdict): void
  /** Connected peers subscribed to the topic, and those in our mesh for it. */
  topicPeers(topic: string): string[]
  meshPeers(topic: string): string[]
  /** Called when a connected peer subscribes to the topic. */
  onPeerSubscribed(topic: string, cb: (peerId: string) => void): void
}

export interface GossipServiceInit {
  topics: string[]
  /** Largest message the transport decodes; our validator applies the real (smaller) bound and counts. */
  maxDataBytes: number
  /** Called for each message dropped by the transport for lacking a signature. */
  onUnsigned: (topic: string) => void
}

/** The libp2p service factory (goes into `services.pubsub`). */
export function gossipService(init: GossipServiceInit) {
  const topics = new Set(init.topics)
  return gossipsub({
    globalSignaturePolicy: 'StrictSign',
    allowedTopics: topics,
    allowPublishToZeroTopicPeers: true,
    maxInboundDataLength: init.maxDataBytes,
    emitSelf: false,
    // The cluster is closed (pnet): several agents on one host (127.0.0.x test fleets, containers
    // behind one NAT) are legitimate, so the IP colocation penalty, which starves the mesh beyond
    // 10 peers per IP, is off.
    scoreParams: { IPColocationFactorWeight: 0 },
    // Runs on every received message before the signature check: count the unsigned ones
    // (gossipsub rejects them itself), and key the duplicate cache like the StrictSign message id.
    fastMsgIdFn: (m) => {
      if (topics.has(m.topic) && (m.signature == null || m.from == null || m.seqno == null))
        init.onUnsigned(m.topic)
      return `${b64(m.from)}:${b64(m.seqno)}`
    },
  })
}

export type GossipService = GossipSub

const b64 = (b?: Uint8Array) =>
  b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64') : ''

const VERDICTS = {
  accept: TopicValidatorResult.Accept,
  reject: TopicValidatorResult.Reject,
  ignore: TopicValidatorResult.Ignore,
} as const

/** Our interface over the libp2p gossipsub service. */
export function createGossip(service: GossipService): Gossip {
  const handlers = new Map<string, (m: GossipMessage) => void>()
  service.addEventListener('message', (evt) => {
    const msg = evt.detail
    const handler = handlers.get(msg.topic)
    if (!handler) return
    handler({
      topic: msg.topic,
      data: msg.data,
      from: msg.type === 'signed' ? msg.from.toString() : undefined,
    })
  })
  const subscribed = new Map<string, (peerId: string) => void>()
  service.addEventListener('subscription-change', (evt) => {
    for (const sub of evt.detail.subscriptions)
      if (sub.subscribe) subscribed.get(sub.topic)?.(evt.detail.peerId.toString())
  })
  return {
    subscribe(topic, handler) {
      handlers.set(topic, handler)
      service.subscribe(topic)
    },
    unsubscribe(topic) {
      handlers.delete(topic)
      service.topicValidators.delete(topic)
      if (service.getTopics().includes(topic)) service.unsubscribe(topic)
    },
    async publish(topic, data) {
      const { recipients } = await service.publish(topic, data)
      return recipients.length
    },
    validate(topic, fn) {
      service.topicValidators.set(
        topic,
        (_peer, msg) =>
          VERDICTS[
            fn({
              topic: msg.topic,
              data: msg.data,
              from: msg.type === 'signed' ? msg.from.toString() : undefined,
            })
          ],
      )
    },
    topicPeers: (topic) => service.getSubscribers(topic).map((p) => p.toString()),
    onPeerSubscribed: (topic, cb) => subscribed.set(topic, cb),
    meshPeers: (topic) => (service as unknown as { getMeshPeers(t: string): string[] }).getMeshPeers(topic),
  }
}
