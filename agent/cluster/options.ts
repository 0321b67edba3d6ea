import { z } from 'zod'

/** Cluster (libp2p, gossip, membership) options with their defaults. */
export const clusterOptionsSchema = z
  .object({
    /** Off: the agent runs alone (no libp2p node). */
    enabled: z.boolean().default(true),
    /** libp2p listen multiaddrs. */
    listen: z.array(z.string().min(1)).min(1).default(['/ip4/0.0.0.0/tcp/7700']),
    /** Addresses to announce instead of the listen addresses (NAT, floating IPs). */
    announce: z.array(z.string().min(1)).default([]),
    /** The pre-shared cluster key (pnet swarm key file); default `<dataDir>/cluster.key`. */
    keyFile: z.string().min(1).optional(),
    /** Peers dialled at start and retried with backoff until one answers (multiaddr or host:port). */
    bootstrapPeers: z.array(z.string().min(1)).default([]),
    /** SWIM period in ms: one member probed per period; also the least time between two state messages. */
    heartbeatMs: z.number().int().min(100).max(60_000).default(1000),
    /** With deadMs: a suspect whose probe failed too is dead `deadMs − suspectMs` after the suspicion. */
    suspectMs: z.number().int().min(200).default(3000),
    deadMs: z.number().int().min(500).default(5000),
    /** Dead or left for this long: removed from the view and from the persisted peers. */
    removeMs: z
      .number()
      .int()
      .min(1000)
      .default(24 * 3600_000),
    /** Upper bound of open connections kept (others are dialled on demand). */
    maxConnections: z.number().int().min(4).max(10_000).default(32),
    /** Connections kept open to cluster members (gossip mesh); the rest are dialled on demand. */
    meshConnections: z.number().int().min(1).max(1000).default(8),
    /** State messages each node should receive per second at most in a busy cluster: a node publishes at most every N·1000/this ms. */
    maxInboundPerSec: z.number().int().min(1).max(10_000).default(100),
    /** Every this many state messages, a full one; deltas (what changed since the last full) in between. */
    fullEvery: z.number().int().min(1).max(1000).default(10),
    /** Largest heartbeat accepted, bytes (encoded JSON). */
    maxMessageBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024)
      .default(32 * 1024),
    /** A direct probe times out after this, ms (an indirect one after twice this). */
    probeTimeoutMs: z.number().int().min(100).max(60_000).default(1000),
    /** Members asked to probe a member that did not answer our own probe. */
    indirectProbes: z.number().int().min(0).max(16).default(3),
    /** Push-pull with one random member this often, ms: a hash of both views, then what differs. */
    syncMs: z.number().int().min(1000).max(3_600_000).default(5000),
    /** CPU load and memory are sampled no more often than this, ms. */
    sampleMs: z.number().int().min(100).max(600_000).default(3000),
  })
  .strict()

export type ClusterOptions = z.infer<typeof clusterOptionsSchema>
export const CLUSTER_DEFAULTS: ClusterOptions = clusterOptionsSchema.parse({})
