import { type ClusterMessage, decodeMessage } from './messages.ts'

export type DropReason = 'unsigned' | 'oversized' | 'malformed' | 'spoofed' | 'stale'

export interface ValidateContext {
  maxBytes: number
  /** Highest sequence already seen from a peer (0 when none). */
  lastSeq: (peerId: string) => number
}

export type Validation = { ok: true; msg: ClusterMessage } | { ok: false; reason: DropReason }

/**
 * Decides whether a gossiped message is accepted (delivered and propagated) or rejected: it must be
 * signed, its sender must be its signer, it must be well-formed and small, and newer than anything
 * seen from that sender (a replay is stale).
 */
export function validateMessage(
  data: Uint8Array,
  signer: string | undefined,
  ctx: ValidateContext,
): Validation {
  if (signer === undefined) return { ok: false, reason: 'unsigned' }
  const decoded = decodeMessage(data, ctx.maxBytes)
  if (!decoded.ok) return decoded
  const { msg } = decoded
  if (msg.peer !== signer) return { ok: false, reason: 'spoofed' }
  if (msg.seq <= ctx.lastSeq(msg.peer)) return { ok: false, reason: 'stale' }
  return { ok: true, msg }
}

/** Gossip counters of one node (`Cluster.stats()`). */
export class GossipStats {
  received = 0
  published = 0
  bytesOut = 0
  bytesIn = 0
  /** Times this node marked a member suspect (a false one when the member was alive). */
  suspicions = 0
  /** SWIM pings this node sent (direct, indirect, and for others). */
  probes = 0
  readonly dropped: Record<string, number> = {}

  drop(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1
  }

  snapshot() {
    return {
      received: this.received,
      dropped: { ...this.dropped },
      published: this.published,
      bytesOut: this.bytesOut,
      bytesIn: this.bytesIn,
      suspicions: this.suspicions,
      probes: this.probes,
    }
  }
}
