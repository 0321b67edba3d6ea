import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { QueuedJobsStats } from '../activations/index.ts'
import type { ClusterStats } from '../cluster/index.ts'
import type { EventStats } from '../events/index.ts'
import type { InvokerState } from '../invoker/index.ts'
import type { ReplicationStatus } from '../replication/index.ts'

/**
 * What the scrape reads from the services: their own state and counters, gathered only when
 * `/metrics` is asked for, so none of it costs the hot path anything.
 */
export interface MetricsSources {
  invoker: () => InvokerState
  /** Member states as this node sees them, itself included; absent when the agent runs alone. */
  members?: () => ReadonlyArray<{ state: string }>
  gossip?: () => ClusterStats
  replication: () => ReplicationStatus
  /** This node's share of the durable queue, and what it did since start. */
  queue?: () => QueuedJobsStats
  /** The triggers fired on this node since start. */
  events?: () => EventStats
  /** The LevelDB directory (its size is summed at each scrape). */
  dbDir: string
}

/** Bytes of the files in `dir` (LevelDB keeps its tables and logs in one flat directory). */
export async function dirBytes(dir: string): Promise<number> {
  let total = 0
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const s = await stat(join(dir, name)).catch(() => null)
    if (s?.isFile()) total += s.size
  }
  return total
}
