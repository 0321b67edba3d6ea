import { z } from 'zod'
import { isHlc } from '../store/hlc.ts'

/** The gossip topic of heartbeats; a new wire format gets a new topic. */
export const HEARTBEAT_TOPIC = 'fnagent/heartbeat/1'

/** Bounds of one heartbeat (besides the byte size, `maxMessageBytes`). */
export const LIMITS = { addrs: 16, inventory: 512, blobs: 256, keyChars: 256 } as const

const count = z.number().int().min(0).max(1_000_000)
const num = z.number().finite().min(0).max(1e12)
const inventory = z
  .record(z.string().min(1).max(LIMITS.keyChars), count)
  .refine((r) => Object.keys(r).length <= LIMITS.inventory, `at most ${LIMITS.inventory} entries`)

/**
 * The node's share of the durable queue (agent/queue/advert.ts): `w0`..`w2` jobs waiting per
 * priority, `r` out for a run or in a retry's backoff, `o0`..`o2` the oldest waiting job's accept
 * time per priority (epoch s), `d` dead letters it counts. An absent key is 0.
 */
const queueAd = z
  .record(z.string().regex(/^(w[0-2]|o[0-2]|r|d)$/), num)
  .refine((r) => Object.keys(r).length <= 8, 'at most 8 entries')

export const capacitySchema = z
  .object({
    cpus: num,
    load: num,
    memTotalMiB: num,
    memFreeMiB: num,
    budgetMiB: num,
    budgetFreeMiB: num,
    freeSlots: num,
    inflight: num,
  })
  .strict()
export type Capacity = z.infer<typeof capacitySchema>

const head = {
  v: z.literal(1),
  peer: z.string().min(1).max(128),
  /** Per-sender sequence, strictly increasing even across restarts (starts at the wall clock, ms). */
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  hlc: z.string().refine(isHlc, 'an HLC timestamp'),
}
/** The sender's current heartbeat period, ms: receivers scale their failure timeouts with it. */
const iv = z.number().int().min(1).max(3_600_000)
const addrs = z.array(z.string().min(1).max(256)).max(LIMITS.addrs)
const blobs = z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(LIMITS.blobs)

export const fullSchema = z
  .object({
    ...head,
    t: z.literal('full'),
    iv,
    ver: z.string().min(1).max(64),
    addrs,
    cap: capacitySchema,
    warm: inventory,
    prewarm: inventory,
    blobs,
    /** Per-namespace load (see LocalState.ns); absent from agents before namespace limits. */
    ns: inventory.optional(),
    /** The node's queue (see queueAd); absent when empty, and from agents before it. */
    q: queueAd.optional(),
  })
  .strict()

/** What changed since the full heartbeat `base` (cumulative, so a lost delta costs nothing). */
export const deltaSchema = z
  .object({
    ...head,
    t: z.literal('delta'),
    iv,
    base: head.seq,
    addrs: addrs.optional(),
    cap: capacitySchema.partial().optional(),
    /** Changed entries; 0 means gone. */
    warm: inventory.optional(),
    prewarm: inventory.optional(),
    blobs: blobs.optional(),
    ns: inventory.optional(),
    q: queueAd.optional(),
  })
  .strict()

export const leaveSchema = z.object({ ...head, t: z.literal('leave') }).strict()

/** The sender found `target` dead by its own probe; receivers probe it at once and confirm. */
export const downSchema = z
  .object({ ...head, t: z.literal('down'), target: head.peer, targetSeq: z.number().int().min(0) })
  .strict()

/**
 * SWIM suspicion: the sender's probe of `target` (direct, then through other members) failed. Receivers
 * that have heard nothing newer than `targetSeq` mark it suspect and probe it themselves; the target
 * refutes by publishing anything newer (its seq is its incarnation).
 */
export const suspectSchema = z
  .object({ ...head, t: z.literal('suspect'), target: head.peer, targetSeq: z.number().int().min(0) })
  .strict()

export const messageSchema = z.discriminatedUnion('t', [
  fullSchema,
  deltaSchema,
  leaveSchema,
  downSchema,
  suspectSchema,
])

export type FullHeartbeat = z.infer<typeof fullSchema>
export type DeltaHeartbeat = z.infer<typeof deltaSchema>
export type LeaveMessage = z.infer<typeof leaveSchema>
export type DownMessage = z.infer<typeof downSchema>
export type SuspectMessage = z.infer<typeof suspectSchema>
export type ClusterMessage = z.infer<typeof messageSchema>

export type DecodeResult =
  | { ok: true; msg: ClusterMessage }
  | { ok: false; reason: 'oversized' | 'malformed' }

export function encodeMessage(msg: ClusterMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(msg))
}

/** Parses and validates one message; never throws. */
export function decodeMessage(data: Uint8Array, maxBytes: number): DecodeResult {
  if (data.byteLength > maxBytes) return { ok: false, reason: 'oversized' }
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data))
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  const parsed = messageSchema.safeParse(json)
  return parsed.success ? { ok: true, msg: parsed.data } : { ok: false, reason: 'malformed' }
}
