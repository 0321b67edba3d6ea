import { randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { type FnError, toFnError } from '../../errors.ts'

/** OpenWhisk's standard messages (apache/openwhisk `http/ErrorResponse.scala`). */
export const MESSAGES = {
  notFound: 'The requested resource does not exist.',
  unauthorized: 'The supplied authentication is invalid.',
  forbidden: 'The supplied authentication is not authorized to access this resource.',
  exists: 'resource already exists',
  tooManyRequests: (count: number, allowed: number) =>
    `Too many requests in the last minute (count: ${count}, allowed: ${allowed}).`,
  parametersNotAllowed: 'Request defines parameters that are not allowed (e.g., reserved properties).',
  overloaded: 'System is overloaded, try again later.',
  propertyNotFound: 'Response does not include requested property.',
  httpUnknownContentType: 'Response did not specify a known content-type.',
  httpContentTypeError: 'Response type in header did not match generated content type.',
  notAcceptable: 'Resource representation is only available with these types:',
  methodNotAllowed: 'HTTP method not allowed, supported methods: ',
  nameTooLong: (length: number, max: number) => `Name segement longer than allowed: ${length} > ${max}.`,
  nameIllegal: 'The name of the entity contains illegal characters.',
  activationIdLength: (length: number) => `Activation id length is ${length} but must be 32.`,
  activationIdIllegal: 'The activation id is not valid.',
  invalidTimeout: (maxMs: number) => `Timeout must be number of milliseconds up to ${maxMs}.`,
  conformance: 'Resource by this name exists but is not in this collection.',
  // fnagent's own: the entity types it answers for but does not implement yet (docs/api.md).
  entityNotSupported: (collection: string) => `Creating ${collection} is not supported by fnagent yet.`,
} as const

/** An answer in OpenWhisk's error shape `{error, code: <transaction id>}`. */
export class OwError extends Error {
  readonly status: number
  readonly headers: Record<string, string>
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.status = status
    this.headers = headers
  }
}

export const owNotFound = () => new OwError(404, MESSAGES.notFound)

/** A %-decoded path segment; a malformed escape is the client's mistake (400), not a server error. */
export function decodePart(part: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    throw new OwError(400, 'The request content was malformed:\nthe path holds a malformed %-escape')
  }
}

/** A transaction id as OpenWhisk prints them (32 characters). */
export function transactionId(): string {
  return randomBytes(16).toString('hex')
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  const data = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(data)),
    ...headers,
  })
  res.end(data)
}

/** Maps any thrown value to OpenWhisk's status and message; `expose` false means a bug (log it). */
export function toOwError(err: unknown): { error: OwError; bug: boolean } {
  if (err instanceof OwError) return { error: err, bug: false }
  const e: FnError = toFnError(err)
  if (!e.expose) return { error: new OwError(500, 'Internal server error'), bug: true }
  switch (e.code) {
    case 'NOT_FOUND':
    case 'ROUTE_NOT_FOUND':
      return { error: owNotFound(), bug: false }
    case 'ALREADY_EXISTS':
      return { error: new OwError(409, MESSAGES.exists), bug: false }
    case 'QUEUE_FULL': {
      const s = e.details?.retryAfterS
      const headers: Record<string, string> = typeof s === 'number' ? { 'retry-after': String(s) } : {}
      return { error: new OwError(429, `${MESSAGES.overloaded} (${e.message})`, headers), bug: false }
    }
    case 'NODE_FULL':
    case 'DRAINING':
    case 'UNAVAILABLE':
      return { error: new OwError(503, `${MESSAGES.overloaded} (${e.message})`), bug: false }
    default:
      return { error: new OwError(e.status, e.message), bug: false }
  }
}

export function sendOwError(res: ServerResponse, err: OwError, txid: string): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  sendJson(res, err.status, { error: err.message, code: txid }, err.headers)
}
