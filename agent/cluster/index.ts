/**
 * The peer-to-peer cluster: membership and gossip over libp2p (see README.md beside this file).
 *
 *   const cluster = new Cluster(
 *     { logger, clock, peerBook, localState: () => invoker.localState() },
 *     { ...config.cluster, privateKey, clusterKey: await readClusterKey(file), agentVersion },
 *   )
 *   await cluster.start()                 // listens, rejoins persisted/bootstrap peers, heartbeats
 *   await cluster.join('/ip4/10.0.0.5/tcp/7700/p2p/12D3…')   // or 'host:port'
 *   cluster.view()                        // every member, self included: state, capacity, warm…
 *   cluster.onChange((m) => …)            // a member's heartbeat or state changed
 *   await cluster.handle('/fnagent/invoke/1.1.0', handler)     // other services' protocols
 *   const stream = await cluster.dialProtocol(peerId, '/fnagent/invoke/1.1.0', signal)
 *   cluster.publishNow()                  // warm inventory changed: heartbeat soon
 *   await cluster.leave(); await cluster.stop()
 *
 * Cluster key helpers for the daemon and CLI: generateClusterKey, writeClusterKey, readClusterKey (errors CLUSTER_KEY_MISSING / CLUSTER_KEY_INVALID).
 */
import type { PrivateKey, Stream, StreamHandler } from '@libp2p/interface'
import type { Logger } from '../log.ts'
import type { HybridClock } from '../store/hlc.ts'
import type { PeerBook } from './dialer.ts'
import type { MemberState } from './membership.ts'
import type { Capacity } from './messages.ts'
import type { ClusterOptions } from './options.ts'
import type { LocalState } from './publisher.ts'

export { RpcChannels, type ServeChannelOptions, serveChannel } from './channel.ts'
export type { ByteMeter } from './frames.ts'
export {
  clusterKeyErrors,
  generateClusterKey,
  readClusterKey,
  writeClusterKey,
} from './keys.ts'
export { CLUSTER_DEFAULTS, type ClusterOptions, clusterOptionsSchema } from './options.ts'
export { type RpcDialer, RpcError, type RpcServer } from './rpc.ts'
export { Cluster } from './service.ts'
export type { Capacity, LocalState, MemberState, PeerBook, Stream, StreamHandler }

export interface MemberView {
  peerId: string
  /** Advertised multiaddrs (without /p2p/). */
  addrs: string[]
  state: MemberState
  self: boolean
  /** Local time (ms since epoch) this node last heard from the member (or probed it successfully). */
  lastHeard: number
  seq: number
  hlc: string
  agentVersion: string
  capacity: Capacity
  warm: Record<string, number>
  prewarm: Record<string, number>
  blobs: string[]
  /** Per-namespace load: `ns` → in flight, `ns/min` → admitted this minute (LocalState.ns). */
  ns?: Record<string, number>
  /** The member's share of the durable queue (LocalState.q). */
  q?: Record<string, number>
}

/**
 * A member as placement reads it on every invocation: the live object its heartbeats update, with
 * `self` set only on this node's own entry.
 */
export type PlacementPeer = Pick<
  MemberView,
  'peerId' | 'state' | 'seq' | 'capacity' | 'warm' | 'prewarm' | 'blobs'
> & {
  self?: boolean
}

export interface ClusterComponents {
  logger: Logger
  clock: HybridClock
  peerBook: PeerBook
  localState: () => LocalState
  /** Peers whose connections are refused both ways (test-only fault injection; see agent/faults.ts). */
  denyPeer?: (peerId: string) => boolean
}

export interface ClusterInit extends Partial<ClusterOptions> {
  /** The node identity (Ed25519, from agent/identity.ts's loadOrCreateIdentity). */
  privateKey: PrivateKey
  /** The pnet swarm key file bytes (readClusterKey). */
  clusterKey: Uint8Array
  agentVersion: string
}

export interface ClusterStats {
  received: number
  dropped: Record<string, number>
  published: number
  bytesOut: number
  bytesIn: number
  /** Times this node marked a member suspect. */
  suspicions: number
  /** SWIM pings this node sent (direct, indirect, and for others). */
  probes: number
  /** Open connections, connected peers subscribed to the heartbeat topic, and those in our gossip mesh. */
  connections: number
  topicPeers: number
  meshPeers: number
}
