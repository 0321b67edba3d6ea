import type { ActivationRecord } from '../../store/index.ts'
import { isTextType } from './body.ts'
import type { Reply } from './components.ts'
import { MESSAGES, OwError } from './reply.ts'
import type { Extension } from './web.ts'

const MEDIA = {
  text: 'text/plain; charset=UTF-8',
  html: 'text/html; charset=UTF-8',
  svg: 'image/svg+xml',
  json: 'application/json',
} as const

/**
 * Turns a web action's activation into the HTTP answer its extension asks for, as OpenWhisk's
 * `WebActions` does; `accept` is the request's Accept header (406 when the answer's type is not in it).
 */
export function toHttpReply(
  record: ActivationRecord,
  ext: Extension,
  projection: string,
  accept?: string,
): Reply {
  const { response } = record
  const result = response.result as Record<string, unknown> | undefined
  let value: unknown
  // `.http` does not project: its extra path is only `__ow_path`, so an action can route on it.
  if (response.success) value = ext === 'http' ? (result ?? {}) : project(result ?? {}, projection)
  else if (response.status === 'application error' && result && 'error' in result) value = result.error
  else throw new OwError(502, `The action did not produce a valid response: ${errorText(result)}`)
  const reply = transcode(value, ext)
  negotiate(reply, accept)
  return reply
}

function transcode(value: unknown, ext: Extension): Reply {
  switch (ext) {
    case 'json':
      if (typeof value !== 'object' || value === null) throw invalidMedia(MEDIA.json)
      return bytes(200, MEDIA.json, JSON.stringify(value, null, 2))
    case 'http':
      return httpResult(value)
    case 'text': {
      const v = field(value, 'text')
      if (v === undefined) throw new OwError(404, MESSAGES.propertyNotFound)
      const text =
        typeof v === 'string'
          ? v
          : typeof v === 'object' && v !== null
            ? JSON.stringify(v, null, 2)
            : String(v)
      return bytes(200, MEDIA.text, text)
    }
    default: {
      const v = field(value, ext)
      if (typeof v !== 'string') throw invalidMedia(MEDIA[ext].split(';')[0]!)
      return bytes(200, MEDIA[ext], v)
    }
  }
}

/** `.html`, `.svg` and `.text` answer the result's `body`, else its field of their own name. */
function field(value: unknown, name: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
  const v = value as Record<string, unknown>
  return 'body' in v ? v.body : v[name]
}

const invalidMedia = (type: string) => new OwError(400, `Response is not valid '${type}'.`)

function errorText(result: Record<string, unknown> | undefined): string {
  const e = result?.error
  return typeof e === 'string' ? e : JSON.stringify(e ?? result ?? {})
}

/** `/a/b` picks result.a.b. */
function project(result: Record<string, unknown>, path: string): unknown {
  let v: unknown = result
  for (const p of path.split('/').filter(Boolean)) {
    if (typeof v !== 'object' || v === null || !(p in v)) throw new OwError(404, MESSAGES.propertyNotFound)
    v = (v as Record<string, unknown>)[p]
  }
  return v
}

function bytes(status: number, type: string, body: string | Buffer, headers: Reply['headers'] = {}): Reply {
  return { status, body: Buffer.from(body), headers: { ...headers, 'content-type': type } }
}

/** Headers an action may not set: they frame the message or concern only this hop. */
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
/** RFC 9110 token (a header name) and field value (no CR, LF or NUL). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

/** A media type as `type/subtype` (parameters allowed); anything else is not a known content type. */
const MEDIA_TYPE = /^[A-Za-z0-9][\w.+-]*\/[A-Za-z0-9][\w.+-]*\s*(;.*)?$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * The `{statusCode, headers, body}` form: a string body is sent as is for a text or JSON type (a
 * JSON type's base64 body is decoded, for legacy actions), decoded from base64 for any other type
 * (text/html when no type is given); any other body is JSON, only with a JSON content type; no body
 * (or an empty string) is 204 unless a status is given. A header may have several values (an array).
 */
function httpResult(value: unknown): Reply {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidMedia('message/http')
  const v = value as { statusCode?: unknown; code?: unknown; headers?: unknown; body?: unknown }
  const headers: Record<string, string | string[]> = {}
  if (v.headers !== undefined) {
    if (typeof v.headers !== 'object' || v.headers === null || Array.isArray(v.headers)) {
      throw invalidMedia('message/http')
    }
    for (const [k, h] of Object.entries(v.headers)) {
      const values = (Array.isArray(h) ? h : [h]).map((x) => {
        if (!['string', 'number', 'boolean'].includes(typeof x)) throw invalidMedia('message/http')
        return String(x)
      })
      const key = k.toLowerCase()
      // Framing and hop-by-hop headers are the agent's (else a result could split the response);
      // names and values HTTP cannot carry are dropped.
      if (RESERVED_HEADERS.has(key) || !TOKEN.test(key) || !values.every((x) => FIELD_VALUE.test(x))) continue
      const prev = headers[key]
      headers[key] = prev === undefined ? (values.length === 1 ? values[0]! : values) : [prev, values].flat()
    }
  }
  const raw = v.statusCode ?? v.code
  const empty = v.body === undefined || v.body === null || v.body === ''
  const code =
    raw === undefined ? (empty ? 204 : 200) : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 100 || code > 599)
    throw invalidMedia('message/http')
  const typeHeader = headers['content-type']
  delete headers['content-type']
  if (empty) return { status: code, body: Buffer.alloc(0), headers }
  const type = Array.isArray(typeHeader) ? typeHeader[0] : typeHeader
  if (type !== undefined && !MEDIA_TYPE.test(type)) throw new OwError(400, MESSAGES.httpUnknownContentType)
  const mediaType = (type ?? '').split(';')[0]!.trim().toLowerCase()
  const json = mediaType === 'application/json' || mediaType.endsWith('+json')
  if (typeof v.body === 'string') {
    if (!type) return bytes(code, MEDIA.html, v.body, headers)
    if (json && BASE64.test(v.body)) {
      const decoded = Buffer.from(v.body, 'base64')
      if (isJson(decoded)) return bytes(code, type, decoded, headers)
    }
    return bytes(code, type, isTextType(type) ? v.body : Buffer.from(v.body, 'base64'), headers)
  }
  if (type && !json) throw new OwError(400, MESSAGES.httpContentTypeError)
  // As OpenWhisk: compact for application/json, pretty-printed for the other JSON types.
  const indent = type && mediaType !== 'application/json' ? 2 : undefined
  return bytes(code, type ?? MEDIA.json, JSON.stringify(v.body, null, indent), headers)
}

function isJson(buf: Buffer): boolean {
  try {
    JSON.parse(buf.toString('utf8'))
    return true
  } catch {
    return false
  }
}

/** Content negotiation: the answer's media type must be one the client accepts (406 otherwise). */
function negotiate(reply: Reply, accept: string | undefined): void {
  const type = reply.headers?.['content-type']
  if (!accept || typeof type !== 'string') return
  const [main, sub] = type.split(';')[0]!.trim().toLowerCase().split('/')
  const ok = accept.split(',').some((range) => {
    const [r, ...params] = range.split(';')
    if (params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p))) return false
    const [rm, rs] = r!.trim().toLowerCase().split('/')
    return (rm === '*' || rm === main) && (rs === '*' || rs === sub)
  })
  if (!ok) {
    throw new OwError(406, `${MESSAGES.notAcceptable}\n${type}`)
  }
}
