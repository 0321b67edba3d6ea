import type { ActivationRecord } from '../../store/index.ts'
import { isTextType } from './body.ts'
import type { Reply } from './components.ts'
import { MESSAGES, OwError } from './reply.ts'
import type { Extension } from './web.ts'

const MEDIA: Record<Exclude<Extension, 'http' | 'json'>, string> = {
  text: 'text/plain; charset=UTF-8',
  html: 'text/html; charset=UTF-8',
  svg: 'image/svg+xml',
}

/** Turns a web action's activation into the HTTP answer its extension asks for. */
export function toHttpReply(record: ActivationRecord, ext: Extension, projection: string): Reply {
  const { response } = record
  const result = response.result as Record<string, unknown> | undefined
  let value: unknown
  // `.http` does not project: its extra path is only `__ow_path`, so an action can route on it.
  if (response.success) value = ext === 'http' ? (result ?? {}) : project(result ?? {}, projection, ext)
  else if (response.status === 'application error' && result && 'error' in result) value = result.error
  else throw new OwError(502, `The action did not produce a valid response: ${errorText(result)}`)
  switch (ext) {
    case 'json':
      return bytes(200, 'application/json', JSON.stringify(value ?? null))
    case 'http':
      return httpResult(value)
    default: {
      if (typeof value === 'object' && value !== null) {
        throw new OwError(400, `Response is not valid '${MEDIA[ext].split(';')[0]}'.`)
      }
      return bytes(200, MEDIA[ext], String(value))
    }
  }
}

function errorText(result: Record<string, unknown> | undefined): string {
  const e = result?.error
  return typeof e === 'string' ? e : JSON.stringify(e ?? result ?? {})
}

/** `/a/b` picks result.a.b; `.text`, `.html` and `.svg` default to the field of their own name. */
function project(result: Record<string, unknown>, path: string, ext: Extension): unknown {
  const parts = path.split('/').filter(Boolean)
  if (parts.length === 0 && (ext === 'text' || ext === 'html' || ext === 'svg')) parts.push(ext)
  let v: unknown = result
  for (const p of parts) {
    if (typeof v !== 'object' || v === null || !(p in v)) throw new OwError(404, MESSAGES.propertyNotFound)
    v = (v as Record<string, unknown>)[p]
  }
  return v
}

function bytes(status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}) {
  return { status, body: Buffer.from(body), headers: { 'content-type': type, ...headers } }
}

/**
 * Headers that frame the HTTP message or concern only this hop: the agent sets them itself. An action
 * that could set `content-length` or `transfer-encoding` could split the response on a kept-alive
 * connection.
 */
const RESERVED_HEADERS = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'x-openwhisk-activation-id',
])

/** An action's headers, lower-cased, without reserved ones or names and values HTTP cannot carry. */
function actionHeaders(given: unknown): Record<string, string> {
  const headers: Record<string, string> = {}
  if (typeof given !== 'object' || given === null || Array.isArray(given)) return headers
  for (const [k, h] of Object.entries(given)) {
    const name = k.toLowerCase()
    const value = String(h)
    if (RESERVED_HEADERS.has(name) || !TOKEN.test(name) || !FIELD_VALUE.test(value)) continue
    headers[name] = value
  }
  return headers
}

/** RFC 9110 token (a header name) and field value (no CR, LF or NUL). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

/** The `{statusCode, headers, body}` form; a string body of a binary content type is base64. */
function httpResult(value: unknown): Reply {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OwError(400, "Response is not valid 'message/http'.")
  }
  const v = value as { statusCode?: unknown; code?: unknown; headers?: unknown; body?: unknown }
  const headers = actionHeaders(v.headers)
  const code = Number(v.statusCode ?? v.code ?? (v.body === undefined ? 204 : 200))
  if (!Number.isInteger(code) || code < 100 || code > 599) {
    throw new OwError(400, `Response is not valid 'message/http': bad status code ${String(v.statusCode)}`)
  }
  if (v.body === undefined || v.body === null) return { status: code, body: Buffer.alloc(0), headers }
  const type = headers['content-type']
  if (typeof v.body === 'string') {
    if (!type) return bytes(code, 'text/html; charset=UTF-8', v.body, headers)
    return bytes(code, type, isTextType(type) ? v.body : Buffer.from(v.body, 'base64'), headers)
  }
  return bytes(code, type ?? 'application/json', JSON.stringify(v.body), headers)
}
