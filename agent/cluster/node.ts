import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { coalescedWrites } from './coalesce.ts'
import { type GossipServiceInit, gossipService } from './gossip.ts'
import { patchPnetCipher } from './pnet-patch.ts'

export interface NodeInit {
  privateKey: PrivateKey
  /** pnet swarm key file bytes. */
  clusterKey: Uint8Array
  listen: string[]
  announce: string[]
  maxConnections: number
  dialTimeoutMs: number
  gossip: GossipServiceInit
  /** Peers whose connections are refused both ways (test-only fault injection; see agent/faults.ts). */
  denyPeer?: (peerId: string) => boolean
}

/**
 * The libp2p node of a cluster member: TCP, pnet (the cluster key), noise, yamux, identify, ping
 * and gossip. Built stopped; the caller starts it.
 */
export function createNode(init: NodeInit) {
  patchPnetCipher()
  const deny = init.denyPeer
  const gate = async (peerId: { toString(): string }) => deny?.(peerId.toString()) ?? false
  return createLibp2p({
    ...(deny
      ? {
          connectionGater: {
            denyDialPeer: gate,
            denyInboundEncryptedConnection: gate,
            denyOutboundEncryptedConnection: gate,
          },
        }
      : {}),
    start: false,
    privateKey: init.privateKey,
    addresses: { listen: init.listen, announce: init.announce },
    transports: [tcp()],
    connectionProtector: coalescedWrites(preSharedKey({ psk: init.clusterKey })),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      maxConnections: init.maxConnections,
      dialTimeout: init.dialTimeoutMs,
    },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipService(init.gossip),
    },
  })
}

export type ClusterNode = Awaited<ReturnType<typeof createNode>>
