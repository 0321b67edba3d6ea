import { z } from 'zod'
import { apiKeyRecordSchema } from '../store/api-keys.ts'
import { eventRecordSchema } from '../store/events.ts'
import { isHlc } from '../store/hlc.ts'
import { namespaceRecordSchema } from '../store/namespaces.ts'
import { packageRecordSchema } from '../store/packages.ts'
import { ACTIVATION_ID_RE, activationRecordSchema, functionRecordSchema } from '../store/types.ts'

/** Replication requests and answers, many per long-lived stream (agent/cluster/channel.ts; see wire.ts). */
export const REPL_PROTOCOL = '/fnagent/repl/1.1.0'
/** Every version of the replication protocol this agent speaks, newest first (see FORWARD_PROTOCOLS). */
export const REPL_PROTOCOLS: readonly string[] = [REPL_PROTOCOL]

const hlc = z.string().refine(isHlc, 'an HLC timestamp')
/**
 * `key`: API keys (their hashes); `pkg`: packages; `ns`: namespace settings; `evt`: triggers and
 * rules. Held by every node, like function metadata.
 */
const kind = z.enum(['fn', 'act', 'key', 'pkg', 'ns', 'evt'])
export type Kind = z.infer<typeof kind>
/** A digest prefix or leaf: up to 3 hex digits (the deepest tree). */
const prefix = z.string().regex(/^[0-9a-f]{0,3}$/)
const digest = z.string().regex(/^[0-9a-f]{32}$/)
const sha256 = z.string().regex(/^[0-9a-f]{64}$/)
const activationId = z.string().regex(ACTIVATION_ID_RE)

/** A function version, with its code (base64) when the receiver owns the blob. */
export const fnEntrySchema = z.object({ record: functionRecordSchema, code: z.string().optional() }).strict()
export type FnEntry = z.infer<typeof fnEntrySchema>

export const requestSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('push'),
      hlc,
      functions: z.array(fnEntrySchema).max(10_000),
      activations: z.array(activationRecordSchema).max(100_000),
      keys: z.array(apiKeyRecordSchema).max(10_000).optional(),
      packages: z.array(packageRecordSchema).max(10_000).optional(),
      namespaces: z.array(namespaceRecordSchema).max(10_000).optional(),
      events: z.array(eventRecordSchema).max(10_000).optional(),
    })
    .strict(),
  /** Children hashes of `prefixes` over the leaves both sides own, or the hashes of `leaves` as such. */
  z
    .object({
      type: z.literal('tree'),
      hlc,
      kind,
      prefixes: z.array(prefix).max(4096).default([]),
      leaves: z.array(prefix).max(4096).default([]),
    })
    .strict(),
  z.object({ type: z.literal('entries'), hlc, kind, leaves: z.array(prefix).min(1).max(4096) }).strict(),
  z
    .object({
      type: z.literal('get'),
      hlc,
      kind,
      keys: z.array(z.string().min(1).max(1024)).max(100_000),
      maxBytes: z.number().int().positive(),
    })
    .strict(),
  z.object({ type: z.literal('blob'), hlc, hash: sha256 }).strict(),
  z.object({ type: z.literal('activation'), hlc, id: activationId }).strict(),
  z
    .object({
      type: z.literal('list'),
      hlc,
      query: z
        .object({
          name: z.string().max(300).optional(),
          namespace: z.string().max(128).optional(),
          limit: z.number().int().min(0).max(10_000).optional(),
          since: z.number().optional(),
          upto: z.number().optional(),
        })
        .strict(),
    })
    .strict(),
])
export type Request = z.infer<typeof requestSchema>
export type RequestOf<T extends Request['type']> = Extract<Request, { type: T }>

export const ackSchema = z.object({
  type: z.literal('ack'),
  /** Per pushed function: the receiver holds it (and its code, when code was sent). */
  functions: z.array(z.boolean()),
  /** Per pushed record: the receiver holds it or a newer one. */
  activations: z.array(z.boolean()),
  /** Per pushed API key: the receiver holds it or a newer copy. */
  keys: z.array(z.boolean()).default([]),
  packages: z.array(z.boolean()).default([]),
  namespaces: z.array(z.boolean()).default([]),
  events: z.array(z.boolean()).default([]),
})
export const treeSchema = z.object({ type: z.literal('tree'), hashes: z.record(prefix, digest) })
export const entriesSchema = z.object({
  type: z.literal('entries'),
  entries: z.record(prefix, z.array(z.tuple([z.string().max(1024), z.string().max(512)]))),
  /** Leaves left out to keep the answer under the size bound: ask again. */
  truncated: z.array(prefix),
})
export const recordsSchema = z.object({
  type: z.literal('records'),
  /** How many of the requested keys were looked at (the rest did not fit): ask again for them. */
  served: z.number().int().min(0),
  functions: z.array(functionRecordSchema),
  activations: z.array(activationRecordSchema),
  keys: z.array(apiKeyRecordSchema).default([]),
  packages: z.array(packageRecordSchema).default([]),
  namespaces: z.array(namespaceRecordSchema).default([]),
  events: z.array(eventRecordSchema).default([]),
})
export const blobSchema = z.object({ type: z.literal('blob'), data: z.string().nullable() })
export const activationSchema = z.object({
  type: z.literal('activation'),
  record: activationRecordSchema.nullable(),
})
export const listSchema = z.object({ type: z.literal('list'), records: z.array(activationRecordSchema) })
export const errorSchema = z.object({ type: z.literal('error'), reason: z.string(), message: z.string() })
export type ErrorAnswer = z.infer<typeof errorSchema>
