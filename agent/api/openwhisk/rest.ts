import type { IncomingMessage } from 'node:http'
import { isComposition } from '../../activations/index.ts'
import { parseTraceparent } from '../../activations/trace.ts'
import { apiKeyFor } from '../../functions/index.ts'
import { type FunctionRecord, LIMITS, SEQUENCE_MAX_LENGTH } from '../../store/index.ts'
import { AGENT_VERSION } from '../../version.ts'
import { fromOwPut, toOwAction } from './actions.ts'
import { getActivation, listActivations } from './activations.ts'
import { readJsonBody } from './body.ts'
import type { ApiContext, OpenWhiskApiInit, Reply } from './components.ts'
import { rulesRoute, triggersRoute } from './events.ts'
import { invokeAction } from './invoke.ts'
import type { ApiKeySubject } from './keys.ts'
import { checkEntityName } from './names.ts'
import { packagesRoute } from './packages.ts'
import { queryFlag, queryInt } from './query.ts'
import { decodePart, MESSAGES, OwError, owNotFound } from './reply.ts'
import { SYSTEM_NAMESPACE, systemRoute } from './system.ts'

export const API_INFO = {
  api_paths: ['/api/v1'],
  description: 'OpenWhisk-compatible REST API of fnagent',
  api_version: '1.0.0',
  api_version_path: 'v1',
  build: AGENT_VERSION,
  buildno: AGENT_VERSION,
}

const MIB = 1024 * 1024
const runtime = (kind: string, image: string, isDefault: boolean) => ({
  kind,
  image,
  deprecated: false,
  default: isDefault,
  attached: false,
  requireMain: false,
})

/** `GET /`: what the platform runs and its limits, in the shape of OpenWhisk's controller info. */
export function platformInfo(init: OpenWhiskApiInit) {
  return {
    description: 'fnagent: OpenWhisk-compatible peer-to-peer serverless agent',
    api_paths: ['/api/v1'],
    limits: {
      actions_per_minute: init.rateLimit.perMinute,
      concurrent_actions: LIMITS.concurrency.max,
      min_action_duration: LIMITS.timeout.min,
      max_action_duration: LIMITS.timeout.max,
      min_action_memory: LIMITS.memory.min * MIB,
      max_action_memory: LIMITS.memory.max * MIB,
      min_action_logs: LIMITS.logs.min * MIB,
      max_action_logs: LIMITS.logs.max * MIB,
      sequence_length: SEQUENCE_MAX_LENGTH,
    },
    runtimes: {
      nodejs: [runtime('nodejs:24', 'fnagent/nodejs:24', true)],
      python: [runtime('python:3', 'fnagent/python:3', true)],
      blackbox: [runtime('blackbox', 'any image speaking the action protocol', false)],
    },
  }
}

function notAllowed(allowed: string): never {
  throw new OwError(405, `${MESSAGES.methodNotAllowed}${allowed}`, { allow: allowed })
}

/** The caller: its `uuid:key` (an action may be given it) and who that key is. */
export interface Caller {
  auth: string
  subject: ApiKeySubject
}

/**
 * The authenticated part of `/api/v1` (namespaces, actions, activations). Everything is of the key's
 * namespace (`_` names it): another namespace in the path is refused (403, as OpenWhisk's
 * entitlement check), and another namespace's entities and activations are never found (404).
 */
export async function handleRest(
  c: ApiContext,
  init: OpenWhiskApiInit,
  req: IncomingMessage,
  path: string,
  q: URLSearchParams,
  caller: Caller,
): Promise<Reply> {
  const method = req.method ?? 'GET'
  const own = caller.subject.namespace
  if (path === '/api/v1/namespaces') {
    if (method !== 'GET') notAllowed('GET')
    return { status: 200, body: [own] }
  }
  const m = /^\/api\/v1\/namespaces\/([^/]+)(?:\/([a-z]+)(?:\/(.+))?)?$/.exec(path)
  if (!m) throw owNotFound()
  const ns = decodePart(m[1]!)
  const collection = m[2]
  const rest = m[3] === undefined ? undefined : decodePart(m[3])
  if (ns === SYSTEM_NAMESPACE && ns !== own)
    return systemRoute(c, init, req, collection, rest, q, { namespace: own, subject: caller.subject.uuid })
  if (ns !== '_' && ns !== own) throw new OwError(403, MESSAGES.forbidden)
  switch (collection) {
    case undefined:
      if (method !== 'GET') notAllowed('GET')
      return {
        status: 200,
        body: {
          actions: await listActions(c, q, own),
          packages: (await packagesRoute(c, init, req, undefined, q, own)).body,
          triggers: (
            await triggersRoute(c.events, c.functions, init, req, undefined, q, {
              namespace: own,
              subject: '',
            })
          ).body,
          rules: (await rulesRoute(c.events, c.functions, init, req, undefined, q, own)).body,
        },
      }
    case 'actions':
      return rest === undefined
        ? actionsCollection(c, method, q, own)
        : action(c, init, { req, name: rest, q, auth: caller.auth, namespace: own })
    case 'activations':
      if (method !== 'GET') notAllowed('GET')
      return rest === undefined ? listActivations(c, q, own) : getActivation(c, rest, own)
    case 'packages':
      return packagesRoute(c, init, req, rest, q, own)
    case 'triggers':
      return triggersRoute(c.events, c.functions, init, req, rest, q, {
        namespace: own,
        subject: caller.subject.uuid,
      })
    case 'rules':
      return rulesRoute(c.events, c.functions, init, req, rest, q, own)
    default:
      throw owNotFound()
  }
}

async function listActions(c: ApiContext, q: URLSearchParams, namespace: string) {
  const limit = queryInt(q, 'limit', 30, 0, 200, 'actions')
  const skip = queryInt(q, 'skip', 0, 0, Number.MAX_SAFE_INTEGER, 'actions')
  const all = (await c.functions.list(namespace)).sort((a, b) => (a.updated < b.updated ? 1 : -1))
  return all.slice(skip, limit === 0 ? undefined : skip + limit).map((fn) => toOwAction(fn, null))
}

async function actionsCollection(
  c: ApiContext,
  method: string,
  q: URLSearchParams,
  namespace: string,
): Promise<Reply> {
  // OpenWhisk has no route for other methods on the collection (e.g. an empty action name): 404.
  if (method !== 'GET') throw owNotFound()
  if (queryFlag(q, 'count'))
    return { status: 200, body: { actions: (await c.functions.list(namespace)).length } }
  return { status: 200, body: await listActions(c, q, namespace) }
}

/** A request on one action: its name from the path, the query, and the caller's `uuid:key`. */
interface ActionRequest {
  req: IncomingMessage
  name: string
  q: URLSearchParams
  auth: string
  /** The caller's namespace. */
  namespace: string
}

async function action(c: ApiContext, init: OpenWhiskApiInit, r: ActionRequest): Promise<Reply> {
  const { req, name, q, namespace } = r
  checkEntityName(name)
  switch (req.method) {
    case 'GET': {
      // `binding/action` reads the bound package's action.
      const { fn } = await c.functions.resolve(name, namespace)
      const code = queryFlag(q, 'code', true) ? await c.store.functions.code(fn) : null
      return { status: 200, body: toOwAction(fn, code) }
    }
    case 'PUT': {
      const body = await readJsonBody(req, init.maxBodyBytes)
      const overwrite = queryFlag(q, 'overwrite')
      await c.packages.checkActionName(namespace, name, true)
      const prev = overwrite ? await c.functions.get(name, namespace).catch(() => null) : null
      const { record } = await c.functions.put(name, fromOwPut(body, overwrite, prev, namespace), namespace)
      return { status: 200, body: toOwAction(record, null) }
    }
    case 'DELETE': {
      const { removed } = await c.functions.remove(name, namespace)
      return { status: 200, body: toOwAction(removed, null) }
    }
    case 'POST':
      return invoke(c, init, r)
    default:
      notAllowed('GET, PUT, DELETE, POST')
  }
}

/** `POST .../actions/{name}?blocking&result&timeout`, as OpenWhisk's `Actions.activate`. */
async function invoke(c: ApiContext, init: OpenWhiskApiInit, on: ActionRequest): Promise<Reply> {
  const { req, name, q, auth, namespace } = on
  const blocking = queryFlag(q, 'blocking')
  const result = queryFlag(q, 'result')
  const waitMs = blockingTimeout(q, init.blockingWaitMs)
  const params = await readJsonBody(req, init.maxPayloadBytes)
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new OwError(400, 'The request content was malformed:\nparameters must be a JSON object')
  }
  const { fn } = await c.functions.resolve(name, namespace)
  checkFinal(fn, params as Record<string, unknown>)
  const out = await invokeAction(c, name, params as Record<string, unknown>, {
    namespace,
    blocking,
    blockingWaitMs: waitMs,
    // A composition passes the caller's key on to those of its components that ask for it.
    apiKey: isComposition(fn) ? auth : apiKeyFor(fn, auth),
    callback: headerValue(req.headers['x-callback-url']),
    traceparent: parseTraceparent(req.headers.traceparent) ?? undefined,
  })
  const header = {
    'x-openwhisk-activation-id': out.done ? out.record.activationId : out.activationId,
  }
  if (!out.done) return { status: 202, body: { activationId: out.activationId }, headers: header }
  const r = out.record.response
  // An array result is the answer itself, with or without `result` (OpenWhisk does the same).
  const body = Array.isArray(r.result) ? r.result : result ? (r.result ?? {}) : out.record
  // OpenWhisk: success 200; application or developer error 502; whisk internal error 500.
  const status = r.success ? 200 : r.status === 'whisk internal error' ? 500 : 502
  return { status, body, headers: header }
}

/** `?timeout=N`: how long a blocking call waits, 1 to `maxMs` milliseconds. */
function blockingTimeout(q: URLSearchParams, maxMs: number): number {
  const raw = q.get('timeout')
  if (raw === null) return maxMs
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
  if (!(n > 0 && n <= maxMs)) throw new OwError(400, MESSAGES.invalidTimeout(maxMs))
  return n
}

/** With the `final` annotation, an action's own parameters cannot be set by an invocation. */
function checkFinal(fn: FunctionRecord, params: Record<string, unknown>): void {
  const final = fn.annotations.final
  if (final !== true && final !== 'true') return
  for (const key of Object.keys(params)) {
    if (key in fn.parameters) throw new OwError(400, MESSAGES.parametersNotAllowed)
  }
}

function headerValue(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h[0] : h
}
