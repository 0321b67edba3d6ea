import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { parseTraceparent } from '../../activations/trace.ts'
import { type FunctionRecord, NAMESPACE_RE } from '../../store/index.ts'
import { annotationOn } from './actions.ts'
import { isTextType, readBody } from './body.ts'
import type { ApiContext, OpenWhiskApiInit, Reply } from './components.ts'
import { invokeAction } from './invoke.ts'
import type { ApiKeySubject } from './keys.ts'
import { decodePart, MESSAGES, OwError, owNotFound } from './reply.ts'
import { toHttpReply } from './web-response.ts'

const EXTENSIONS = ['json', 'html', 'text', 'svg', 'http'] as const
export type Extension = (typeof EXTENSIONS)[number]

export const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent',
  'access-control-allow-methods': 'OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH',
}

/** OpenWhisk's default CORS answer: the headers a preflight asks for are allowed. */
function corsHeaders(req: IncomingMessage): Record<string, string> {
  const asked = req.headers['access-control-request-headers']
  return asked ? { ...CORS_HEADERS, 'access-control-allow-headers': asked } : CORS_HEADERS
}

interface WebTarget {
  namespace: string
  name: string
  ext: Extension
  /** The path after the action name and extension (`__ow_path`, and the projection). */
  rest: string
}

/** `/api/v1/web/{ns}/{package|default}/{action}[.ext][/projection]` → the function and extension. */
export function parseWebPath(path: string): WebTarget {
  const m = /^\/api\/v1\/web\/([^/]+)\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path)
  if (!m) throw owNotFound()
  const namespace = decodePart(m[1]!)
  if (!NAMESPACE_RE.test(namespace)) throw owNotFound()
  const pkg = decodePart(m[2]!)
  let action = decodePart(m[3]!)
  let ext: Extension = 'http'
  const dot = action.lastIndexOf('.')
  if (dot > 0 && (EXTENSIONS as readonly string[]).includes(action.slice(dot + 1))) {
    ext = action.slice(dot + 1) as Extension
    action = action.slice(0, dot)
  }
  return { namespace, name: pkg === 'default' ? action : `${pkg}/${action}`, ext, rest: m[4] ?? '' }
}

/** Runs a web action: the HTTP request becomes the parameters, the result becomes the response. */
export async function handleWeb(
  c: ApiContext,
  init: OpenWhiskApiInit,
  req: IncomingMessage,
  path: string,
  rawQuery: string,
  checkKey: () => Promise<ApiKeySubject | null>,
): Promise<Reply> {
  const target = parseWebPath(path)
  const fn = await c.functions.get(target.name, target.namespace).catch(() => null)
  if (!fn || !annotationOn(fn, 'web-export')) throw owNotFound()
  const method = (req.method ?? 'GET').toLowerCase()
  if (method === 'options' && !annotationOn(fn, 'web-custom-options')) {
    return { status: 200, body: undefined, headers: corsHeaders(req) }
  }
  await requireAuth(fn, req, checkKey)
  // An authenticated caller is named to the action as `__ow_user` (the key's namespace).
  const user = req.headers.authorization ? (await checkKey())?.namespace : undefined
  const params = await webParams(fn, req, method, target.rest, rawQuery, init.maxPayloadBytes, user)
  const out = await invokeAction(c, fn.name, params, {
    blocking: true,
    blockingWaitMs: init.blockingWaitMs,
    namespace: fn.namespace,
    traceparent: parseTraceparent(req.headers.traceparent) ?? undefined,
  })
  if (!out.done) return { status: 202, body: { activationId: out.activationId } }
  const reply = toHttpReply(out.record, target.ext, target.rest, req.headers.accept)
  if (!annotationOn(fn, 'web-custom-options')) reply.headers = { ...corsHeaders(req), ...reply.headers }
  reply.headers = { 'x-openwhisk-activation-id': out.record.activationId, ...reply.headers }
  return reply
}

/** `require-whisk-auth`: true = a valid API key; a string = that value in X-Require-Whisk-Auth. */
async function requireAuth(
  fn: FunctionRecord,
  req: IncomingMessage,
  checkKey: () => Promise<ApiKeySubject | null>,
) {
  const want = fn.annotations['require-whisk-auth']
  if (want === undefined || want === false) return
  const ok =
    typeof want === 'string' || typeof want === 'number'
      ? typeof req.headers['x-require-whisk-auth'] === 'string' &&
        sameSecret(req.headers['x-require-whisk-auth'], String(want))
      : (await checkKey()) !== null
  if (!ok) throw new OwError(401, MESSAGES.unauthorized)
}

/** Compares in constant time (of the hashes: the lengths leak nothing either). */
function sameSecret(given: string, want: string): boolean {
  const digest = (x: string) => createHash('sha256').update(x).digest()
  return timingSafeEqual(digest(given), digest(want))
}

/** The caller's headers as the action sees them: its credentials stay with the agent. */
function actionHeaders(req: IncomingMessage): Record<string, unknown> {
  const { authorization: _a, 'x-require-whisk-auth': _w, ...rest } = req.headers
  return rest
}

/**
 * The parameters of a web action, as OpenWhisk builds them: the query, then the body (a JSON
 * object or a form is merged; any other body comes as `__ow_body`: a JSON value as is, text as a
 * string, bytes as base64), then the action's own parameters, then `__ow_method`, `__ow_headers`,
 * `__ow_path` and, for an authenticated caller, `__ow_user`. A raw-http action gets the query and
 * the body unparsed (`__ow_query`, `__ow_body`, empty strings when absent; JSON and bytes as base64).
 */
async function webParams(
  fn: FunctionRecord,
  req: IncomingMessage,
  method: string,
  owPath: string,
  rawQuery: string,
  maxBodyBytes: number,
  user: string | undefined,
): Promise<Record<string, unknown>> {
  const body = await readBody(req, maxBodyBytes)
  const type = req.headers['content-type']
  const mediaType = (type ?? '').split(';')[0]!.trim().toLowerCase()
  const context: Record<string, unknown> = {
    __ow_method: method,
    __ow_headers: actionHeaders(req),
    __ow_path: owPath,
    ...(user ? { __ow_user: user } : {}),
  }
  if (annotationOn(fn, 'raw-http')) {
    const base64 = mediaType === 'application/json' || !isTextType(type)
    return {
      ...fn.parameters,
      ...context,
      __ow_query: rawQuery,
      __ow_body: body.length === 0 ? '' : body.toString(base64 ? 'base64' : 'utf8'),
    }
  }
  let fromRequest: Record<string, unknown> = Object.fromEntries(new URLSearchParams(rawQuery))
  if (body.length) {
    if (isJsonFamily(mediaType)) {
      const json = tryJson(body)
      if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
        fromRequest = { ...fromRequest, ...(json as Record<string, unknown>) }
      } else context.__ow_body = json
    } else if (mediaType === 'application/x-www-form-urlencoded') {
      fromRequest = { ...fromRequest, ...Object.fromEntries(new URLSearchParams(body.toString('utf8'))) }
    } else context.__ow_body = body.toString(isTextType(type) ? 'utf8' : 'base64')
  }
  // Reserved names and the action's own parameters (final for web actions) may not be set by a request.
  for (const key of Object.keys(fromRequest)) {
    if (key.startsWith('__ow_') || key in fn.parameters) throw new OwError(400, MESSAGES.parametersNotAllowed)
  }
  return { ...fromRequest, ...fn.parameters, ...context }
}

/** `application/json` and the `+json` media types (`application/cloudevents+json`, ...). */
export function isJsonFamily(mediaType: string): boolean {
  return mediaType === 'application/json' || mediaType.endsWith('+json')
}

function tryJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch {
    throw new OwError(400, 'The request content was malformed:\nthe body is not valid JSON')
  }
}
