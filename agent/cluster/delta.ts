import type { Capacity, DeltaHeartbeat } from './messages.ts'

/** What a heartbeat describes about its sender (besides liveness). */
export interface PeerState {
  addrs: string[]
  capacity: Capacity
  warm: Record<string, number>
  prewarm: Record<string, number>
  blobs: string[]
  ns?: Record<string, number>
  /** The node's share of the durable queue (messages.ts queueAd). */
  q?: Record<string, number>
}

export type DeltaBody = Pick<DeltaHeartbeat, 'addrs' | 'cap' | 'warm' | 'prewarm' | 'blobs' | 'ns' | 'q'>

/**
 * The least time between two state messages of a node in a cluster of `members` nodes: every node
 * receives every one, so in a busy cluster (state changing all the time) it grows to keep the
 * inbound rate at `maxInboundPerSec` messages per node per second. An idle node sends none.
 */
export function heartbeatPeriodMs(
  members: number,
  o: { heartbeatMs: number; maxInboundPerSec: number },
): number {
  return Math.max(o.heartbeatMs, Math.ceil((Math.max(1, members) * 1000) / o.maxInboundPerSec))
}

/** Rounds the noisy fields so that idle noise does not make every delta carry capacity. */
export function quantizeCapacity(c: Capacity): Capacity {
  const mib = (v: number) => Math.floor(v / 8) * 8
  return {
    ...c,
    load: Math.round(c.load),
    memFreeMiB: mib(c.memFreeMiB),
    memTotalMiB: Math.round(c.memTotalMiB),
  }
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((v, i) => v === b[i])

function diffCounts(
  base: Record<string, number>,
  cur: Record<string, number>,
): Record<string, number> | undefined {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(cur)) if (base[k] !== v) out[k] = v
  for (const k of Object.keys(base)) if (!(k in cur)) out[k] = 0
  return Object.keys(out).length ? out : undefined
}

/** What changed from `base` (the last full heartbeat) to `cur`; absent fields did not change. */
export function diffState(base: PeerState, cur: PeerState): DeltaBody {
  const out: DeltaBody = {}
  if (!sameList(base.addrs, cur.addrs)) out.addrs = cur.addrs
  const cap: Partial<Capacity> = {}
  for (const k of Object.keys(cur.capacity) as Array<keyof Capacity>)
    if (base.capacity[k] !== cur.capacity[k]) cap[k] = cur.capacity[k]
  if (Object.keys(cap).length) out.cap = cap
  const warm = diffCounts(base.warm, cur.warm)
  if (warm) out.warm = warm
  const prewarm = diffCounts(base.prewarm, cur.prewarm)
  if (prewarm) out.prewarm = prewarm
  if (!sameList(base.blobs, cur.blobs)) out.blobs = cur.blobs
  const ns = diffCounts(base.ns ?? {}, cur.ns ?? {})
  if (ns) out.ns = ns
  const q = diffCounts(base.q ?? {}, cur.q ?? {})
  if (q) out.q = q
  return out
}

function applyCounts(base: Record<string, number>, d?: Record<string, number>): Record<string, number> {
  if (!d) return base
  const out = { ...base }
  for (const [k, v] of Object.entries(d)) {
    if (v === 0) delete out[k]
    else out[k] = v
  }
  return out
}

/** The sender's state: its last full heartbeat with a (cumulative) delta applied. */
export function applyDelta(base: PeerState, d: DeltaBody): PeerState {
  return {
    addrs: d.addrs ?? base.addrs,
    capacity: { ...base.capacity, ...d.cap },
    warm: applyCounts(base.warm, d.warm),
    prewarm: applyCounts(base.prewarm, d.prewarm),
    blobs: d.blobs ?? base.blobs,
    ...(base.ns || d.ns ? { ns: applyCounts(base.ns ?? {}, d.ns) } : {}),
    ...(base.q || d.q ? { q: applyCounts(base.q ?? {}, d.q) } : {}),
  }
}

/** Keeps the largest `max` entries (a heartbeat is bounded; the largest counts matter most). */
export function boundCounts(r: Record<string, number>, max: number, maxKey: number): Record<string, number> {
  const entries = Object.entries(r).filter(([k, v]) => k.length > 0 && k.length <= maxKey && v > 0)
  if (entries.length <= max) return Object.fromEntries(entries)
  return Object.fromEntries(entries.sort((a, b) => b[1] - a[1]).slice(0, max))
}
