import { type ActivationRecord, type ActivationStatus, statusCode } from '../store/types.ts'
import type { Reply } from './http.ts'

export type Response = ActivationRecord['response']

export function response(status: ActivationStatus, result: unknown, size?: number): Response {
  const code = statusCode(status)
  return { status, statusCode: code, success: code === 0, result, ...(size === undefined ? {} : { size }) }
}

export const messages = {
  timeout: (ms: number) => `The action exceeded its time limit of ${ms} milliseconds.`,
  memory: (mib: number) => `The action exhausted its memory (limit ${mib} MB) and was aborted.`,
  tooLarge: (size: number, max: number) =>
    `The action produced a response that exceeded the allowed length: ${size} > ${max} bytes.`,
  notJson: (body: string) => `The action did not produce a valid JSON response: ${body.slice(0, 200)}`,
  notObject: 'The action did not return a dictionary.',
  died: 'The action did not produce a valid response and exited unexpectedly (its container stopped).',
  initFailed: 'The action failed to initialize.',
} as const

/** Maps the `/run` answer to OpenWhisk's four outcomes. */
export function fromRun(reply: Reply, maxBytes: number): Response {
  if (reply.tooLarge)
    return response('action developer error', { error: messages.tooLarge(reply.size, maxBytes) })
  const text = reply.body.toString('utf8')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return response('action developer error', { error: messages.notJson(text) }, reply.size)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return response('action developer error', { error: messages.notObject }, reply.size)
  }
  const error = (parsed as { error?: unknown }).error
  // As OpenWhisk: a result carrying `error` is an application error even when the proxy said 200
  // (an action may return or resolve `{ error }` to report a failure).
  if (reply.status === 200 && error === undefined) return response('success', parsed, reply.size)
  if (error === undefined)
    return response('action developer error', { error: messages.notObject }, reply.size)
  return response('application error', { error }, reply.size)
}

/** `null` when `/init` succeeded; otherwise the developer error carrying the runtime's message. */
export function fromInit(reply: Reply): Response | null {
  if (reply.status === 200) return null
  let error: unknown = messages.initFailed
  try {
    const parsed = JSON.parse(reply.body.toString('utf8')) as { error?: unknown }
    if (parsed && typeof parsed === 'object' && parsed.error !== undefined) error = parsed.error
  } catch {
    const text = reply.body.toString('utf8').trim()
    if (text) error = `${messages.initFailed} ${text.slice(0, 200)}`
  }
  return response('action developer error', { error })
}
