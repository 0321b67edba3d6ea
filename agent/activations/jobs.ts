import { z } from 'zod'
import { errors } from '../errors.ts'
import { callbackUrl, PRIORITIES, type Priority } from '../queue/index.ts'
import { type ActivationRecord, type FunctionRecord, functionRecordSchema } from '../store/index.ts'

/**
 * What a queued async invocation's `running` marker carries besides the record's fields: enough
 * for any owner to run it when the node that drives it dies (the function version, the merged
 * parameters, the priority, when it was accepted, runs so far). The finished record replaces the
 * marker, so the parameters are kept only while the job waits or runs.
 */
export const jobFieldSchema = z.object({
  fn: functionRecordSchema,
  params: z.record(z.string(), z.unknown()),
  priority: z.number().int().min(0).max(2),
  accepted: z.number().nonnegative(),
  attempt: z.number().int().min(0),
  takeover: z.object({ from: z.string(), cause: z.string(), at: z.number() }).optional(),
  attempts: z
    .array(
      z.object({
        activationId: z.string(),
        attempt: z.number().int(),
        node: z.string(),
        start: z.number(),
        end: z.number(),
        status: z.string(),
        result: z.unknown(),
      }),
    )
    .max(16)
    .default([]),
  notBefore: z.number().optional(),
  /** The activation's namespace when not the function's (a run through a binding to another namespace's package). */
  owner: z.string().min(1).max(128).optional(),
  /** The caller's W3C trace context, for the record. */
  traceparent: z.string().max(64).optional(),
  /** Where the finished record is POSTed (X-Callback-Url, --callback, annotation `callback`). */
  callback: z.string().max(2048).optional(),
  /**
   * The caller's API key (`provide-api-key`) sealed under the cluster's secrets key (SecretBox,
   * the job's id as additional data), so a node that takes the job over runs it with the key;
   * never in clear on disk or the wire, and dropped from the finished record.
   */
  sealedKey: z.string().max(4096).optional(),
})
export type JobField = z.infer<typeof jobFieldSchema>

/** The job a marker carries, or null (a marker from before the queue, or a finished record). */
export function jobOf(record: ActivationRecord): JobField | null {
  if (record.phase !== 'running') return null
  const parsed = jobFieldSchema.safeParse((record as { job?: unknown }).job)
  return parsed.success ? parsed.data : null
}

/** The priority an invocation runs at: the one asked, else the function's `priority` annotation, else 0. */
export function priorityOf(fn: FunctionRecord, asked: number | undefined): Priority {
  const wanted = asked ?? fn.annotations.priority
  return (PRIORITIES as readonly unknown[]).includes(wanted) ? (wanted as Priority) : 0
}

/** The callback URL of an invocation: the one asked, else the function's `callback` annotation; a bad one asked is refused. */
export function callbackOf(fn: FunctionRecord, asked: string | undefined): { callback?: string } {
  if (asked !== undefined) {
    const url = callbackUrl(asked)
    if (!url) throw errors.invalidArgument(`the callback '${asked.slice(0, 100)}' is not an http(s) URL`)
    return { callback: url }
  }
  const url = callbackUrl(fn.annotations.callback)
  return url ? { callback: url } : {}
}
