import type { ActivationService } from '../../activations/index.ts'
import type { FunctionService } from '../../functions/index.ts'
import type { ActivationRecord } from '../../store/index.ts'
import type { RecordWaiter } from './waiter.ts'

export interface InvokeComponents {
  functions: Pick<FunctionService, 'resolve'>
  activations: Pick<ActivationService, 'invoke'>
  waiter: RecordWaiter
}

export type InvokeOutcome = { done: true; record: ActivationRecord } | { done: false; activationId: string }

/**
 * Starts an activation and, when blocking, waits for its record up to min(blockingWaitMs,
 * the action's timeout + graceMs); past that the caller answers 202 with the id, as OpenWhisk does.
 */
export async function invokeAction(
  c: InvokeComponents,
  name: string,
  params: Record<string, unknown>,
  opts: {
    blocking: boolean
    blockingWaitMs: number
    graceMs?: number
    apiKey?: string | undefined
    /** `X-Callback-Url` (OpenFaaS): the finished record is POSTed there. */
    callback?: string | undefined
    /** The request's valid W3C `traceparent`, kept in the record. */
    traceparent?: string | undefined
    /** The caller's namespace (the node's when omitted). */
    namespace?: string
  },
): Promise<InvokeOutcome> {
  const { fn } = await c.functions.resolve(name, opts.namespace)
  const started = await c.activations.invoke(
    name,
    {
      params,
      blocking: false,
      ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
      ...(opts.callback ? { callback: opts.callback } : {}),
      ...(opts.traceparent ? { traceparent: opts.traceparent } : {}),
    },
    opts.namespace,
  )
  const { activationId } = started.body as { activationId: string }
  if (!opts.blocking) return { done: false, activationId }
  const waitMs = Math.min(opts.blockingWaitMs, fn.limits.timeout + (opts.graceMs ?? 5_000))
  const record = await c.waiter.wait(activationId, waitMs)
  return record ? { done: true, record } : { done: false, activationId }
}
