import type { FunctionRecord } from '../store/index.ts'

/**
 * `provide-api-key` (OpenWhisk's annotation): the action gets the caller's key as `__OW_API_KEY`.
 * The one place that decides which key a function is given; an action created through the REST API
 * always has the annotation (false unless asked), one deployed with the fnagent CLI does not.
 */
export function providesApiKey(fn: FunctionRecord): boolean {
  const v = fn.annotations['provide-api-key']
  return v === true || v === 'true'
}

/** The key a run of `fn` is given, from the caller's: the caller's own key, or none. */
export function apiKeyFor(fn: FunctionRecord, callerKey: string | undefined): string | undefined {
  return callerKey && providesApiKey(fn) ? callerKey : undefined
}
