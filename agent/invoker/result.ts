import { type ActivationRecord, type ActivationStatus, statusCode } from '../store/types.ts'
import type { Reply } from './http.ts'

export type Response = ActivationRecord['response']

export function response(status: ActivationStatus, result: unknown, size?: number): Response {
  const code = statusCode(status)
  return { status, statusCode: code, success: code === 0, result, ...(size === undefined ? {} : { size }) }
}

/** The messages an activation's `error` carries, as OpenWhisk words them (`http/ErrorResponse.scala`). */
export const messages = {
  timeout: (ms: number, init: boolean) =>
    `The action exceeded its time limits of ${ms} milliseconds${init ? ' during initialization.' : '.'}`,
  memory: 'The action exhausted its memory and was aborted.',
  tooLarge: (size: number, max: number, truncated: string) =>
    `The action produced a response that exceeded the allowed length: ${size} > ${max} bytes. The truncated response was: ${truncated}`,
  invalidRun: (body: string) =>
    `The action did not produce a valid JSON or JSON Array response${body ? `: ${body.slice(0, 200)}` : '.'}`,
  invalidInit: (body: string) =>
    `The action failed during initialization${body ? `: ${body.slice(0, 200)}` : '.'}`,
  /** The action's process exited during `/init` or `/run` (OpenWhisk's abnormal initialization / run). */
  abnormalInit: 'The action did not initialize and exited unexpectedly.',
  abnormalRun: 'The action did not produce a valid response and exited unexpectedly.',
  /** The container was killed from outside (not by the action): the platform's fault. */
  died: 'The action did not produce a valid response: its container was killed.',
} as const

/**
 * Maps the `/run` answer to OpenWhisk's outcomes (`ActivationResponse.processRunResponseContent`):
 * 200 with an object is success, or an application error when it carries `error`; 200 with an
 * array is success; any other status is a developer error with the answer's `error`; anything not
 * a JSON object or array is a developer error. A result over the limit is an application error.
 */
export function fromRun(reply: Reply, maxBytes: number): Response {
  if (reply.tooLarge)
    return response(
      'application error',
      { error: messages.tooLarge(reply.size, maxBytes, reply.body.toString('utf8')) },
      reply.size,
    )
  const text = reply.body.toString('utf8')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return response('action developer error', { error: messages.invalidRun(text) }, reply.size)
  }
  const ok = reply.status === 200
  if (Array.isArray(parsed)) {
    return ok
      ? response('success', parsed, reply.size)
      : response('action developer error', { error: messages.invalidRun(text) }, reply.size)
  }
  if (parsed === null || typeof parsed !== 'object') {
    return response('action developer error', { error: messages.invalidRun(text) }, reply.size)
  }
  const error = (parsed as { error?: unknown }).error
  if (!ok)
    return response('action developer error', { error: error ?? messages.invalidRun(text) }, reply.size)
  if (error === undefined) return response('success', parsed, reply.size)
  return response('application error', { error }, reply.size)
}

/** `null` when `/init` succeeded; otherwise the developer error carrying the runtime's message. */
export function fromInit(reply: Reply): Response | null {
  if (reply.status === 200) return null
  const text = reply.body.toString('utf8')
  let error: unknown = messages.invalidInit(text.trim())
  try {
    const parsed = JSON.parse(text) as { error?: unknown }
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && parsed.error !== undefined)
      error = parsed.error
  } catch {
    // not JSON: the invalid-init message above carries the text
  }
  return response('action developer error', { error })
}
