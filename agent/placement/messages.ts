import { z } from 'zod'
import { TRACEPARENT_RE } from '../activations/trace.ts'
import { ERROR_CODE_LIST } from '../errors.ts'
import {
  ACTIVATION_ID_RE,
  activationRecordSchema,
  functionRecordSchema,
  type KeyValue,
  keyValueSchema,
  NAMESPACE_RE,
} from '../store/types.ts'

/** Forwarded invocations: many requests and answers per long-lived stream (agent/cluster/channel.ts). */
export const FORWARD_PROTOCOL = '/fnagent/invoke/1.1.0'
/**
 * Every version of the forwarding protocol this agent speaks, newest first. Each channel uses the
 * first one the peer also speaks (multistream-select), so a release that adds a version keeps
 * talking to one that does not have it yet: put the new id first and keep the old ones.
 */
export const FORWARD_PROTOCOLS: readonly string[] = [FORWARD_PROTOCOL]
/** A forwarded invocation is never forwarded again past this many hops. */
export const MAX_HOPS = 2

/** Why a node was asked; `force` is the second pass after every candidate refused on its own terms. */
export const reasonSchema = z.enum(['warm', 'home', 'load', 'force'])

const explainSchema = z.object({
  receivedBy: z.string(),
  reason: reasonSchema,
  score: z.number(),
  runnerUp: z.object({ node: z.string(), score: z.number() }).nullable(),
  attempt: z.number().int().min(1),
})
export type PlacementExplain = z.infer<typeof explainSchema>

export const forwardRequestSchema = z
  .object({
    v: z.literal(1),
    fn: functionRecordSchema,
    params: z.record(z.string(), z.unknown()),
    activationId: z.string().regex(ACTIVATION_ID_RE),
    deadline: z.number().int().positive(),
    hops: z.number().int().min(0).max(16),
    explain: explainSchema,
    /** The caller's API key for a `provide-api-key` action (on the encrypted channel, never stored). */
    apiKey: z.string().min(1).max(512).optional(),
    /** The composition this run is a component of (its activation id). */
    cause: z.string().regex(ACTIVATION_ID_RE).optional(),
    /** Annotations the sender adds to the record (the queue's: priority, wait, attempt, takeover). */
    annotations: z.array(keyValueSchema).max(8).optional(),
    /** The activation's namespace when not the function's (a run through a binding; RunRequest.namespace). */
    namespace: z.string().regex(NAMESPACE_RE).optional(),
    /** The caller's W3C trace context, for the record (sent only when there is one). */
    traceparent: z.string().regex(TRACEPARENT_RE).optional(),
  })
  .strict()
export type ForwardRequest = z.infer<typeof forwardRequestSchema>

export const forwardResponseSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('refused'),
    code: z.enum(ERROR_CODE_LIST),
    message: z.string(),
    /**
     * The refuser's fresh free slots (activations of the function it could start now, evicting idle
     * containers): the sender's forced pass asks the freest first. Absent from refusals that are
     * not about room (BUSY, HOPS, INVALID, CODE_MISSING, UNREACHABLE).
     */
    freeSlots: z.number().int().min(0).optional(),
  }),
  z.object({ type: z.literal('done'), record: activationRecordSchema }),
])
export type ForwardResponse = z.infer<typeof forwardResponseSchema>

/** What placement adds to the record of a run it placed: its explanation, and the caller's trace context. */
export function runAnnotations(explain: PlacementExplain, traceparent: string | undefined): KeyValue[] {
  const out: KeyValue[] = [{ key: 'placement', value: explain }]
  if (traceparent) out.push({ key: 'traceparent', value: traceparent })
  return out
}
