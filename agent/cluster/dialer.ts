import { isIPv4, isIPv6 } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { errors } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { ClusterNode } from './node.ts'

export interface PeerBookEntry {
  peerId: string
  addrs: string[]
}

/** Where the peers this node joined or learned are kept, so a restart rejoins on its own. */
export interface PeerBook {
  list(): Promise<PeerBookEntry[]>
  put(e: PeerBookEntry): Promise<void>
  remove(peerId: string): Promise<void>
}

const P2P_RE = /\/p2p\/([^/]+)$/

/** A multiaddr (with or without /p2p/) or `host:port` as a multiaddr. */
export function parseTarget(target: string): Multiaddr {
  const t = target.trim()
  try {
    if (t.startsWith('/')) return multiaddr(t)
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(t)
    if (m && Number(m[2]) > 0 && Number(m[2]) < 65536) {
      const host = m[1]
      const proto = isIPv4(host) ? 'ip4' : isIPv6(host) ? 'ip6' : 'dns4'
      return multiaddr(`/${proto}/${host}/tcp/${m[2]}`)
    }
  } catch (err) {
    throw errors.invalidArgument(`not a peer address: ${target} (a multiaddr or host:port)`, { cause: err })
  }
  throw errors.invalidArgument(`not a peer address: ${target} (a multiaddr or host:port)`)
}

/** The address without its trailing /p2p/<id>. */
export const stripPeer = (addr: string): string => addr.replace(P2P_RE, '')

/** Dialable multiaddrs of a peer from its advertised addresses. */
export function peerAddrs(peerId: string, addrs: string[]): Multiaddr[] {
  const out: Multiaddr[] = []
  for (const a of addrs) {
    try {
      out.push(multiaddr(`${stripPeer(a)}/p2p/${peerId}`))
    } catch {
      // an unparsable advertised address is skipped
    }
  }
  return out
}

export interface DialerComponents {
  logger: Logger
  node: ClusterNode
}

/** Dials a target (learning its peer id when the address has none). */
export async function dialTarget(
  c: DialerComponents,
  target: string | { peerId: string; addrs: string[] },
  signal: AbortSignal,
): Promise<string> {
  const dest = typeof target === 'string' ? parseTarget(target) : peerAddrs(target.peerId, target.addrs)
  if (Array.isArray(dest) && dest.length === 0) {
    const peer = typeof target === 'string' ? target : target.peerId
    throw errors.peerUnreachable(`no address known for ${peer}`)
  }
  try {
    const conn = await c.node.dial(dest, { signal })
    return conn.remotePeer.toString()
  } catch (err) {
    const what = typeof target === 'string' ? target : target.peerId
    throw errors.peerUnreachable(`could not connect to ${what}: ${(err as Error).message}`, { cause: err })
  }
}

/** True when a connection to `peerId` is open. */
export function isConnected(node: ClusterNode, peerId: string): boolean {
  return node.getConnections(peerIdFromString(peerId)).length > 0
}

/** Exponential backoff with jitter: 0.5 s doubling to 30 s. */
export async function backoff(attempt: number, signal: AbortSignal): Promise<void> {
  const ms = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6))
  await sleep(ms * (0.75 + Math.random() / 2), undefined, { signal })
}
