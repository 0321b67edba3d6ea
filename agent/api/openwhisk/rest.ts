import type { IncomingMessage } from 'node:http'
import { AGENT_VERSION } from '../../version.ts'
import { fromOwPut, toOwAction } from './actions.ts'
import { listActivations } from './activations.ts'
import { readJsonBody } from './body.ts'
import type { ApiContext, OpenWhiskApiInit, Reply } from './components.ts'
import { invokeAction } from './invoke.ts'
import { queryFlag, queryInt } from './query.ts'
import { decodePart, MESSAGES, OwError, owNotFound } from './reply.ts'

export const API_INFO = {
  api_paths: ['/api/v1'],
  description: 'OpenWhisk-compatible REST API of fnagent',
  api_version: '1.0.0',
  api_version_path: 'v1',
  build: AGENT_VERSION,
  buildno: AGENT_VERSION,
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@-]*(\/[A-Za-z0-9_][A-Za-z0-9_.@-]*)?$/

function notAllowed(allowed: string): never {
  throw new OwError(405, `${MESSAGES.methodNotAllowed}${allowed}`, { allow: allowed })
}

/** The authenticated part of `/api/v1` (namespaces, actions, activations). */
export async function handleRest(
  c: ApiContext,
  init: OpenWhiskApiInit,
  req: IncomingMessage,
  path: string,
  q: URLSearchParams,
): Promise<Reply> {
  const method = req.method ?? 'GET'
  if (path === '/api/v1/namespaces') {
    if (method !== 'GET') notAllowed('GET')
    return { status: 200, body: [init.namespace] }
  }
  const m = /^\/api\/v1\/namespaces\/([^/]+)(?:\/([a-z]+)(?:\/(.+))?)?$/.exec(path)
  if (!m) throw owNotFound()
  const ns = decodePart(m[1]!)
  if (ns !== '_' && ns !== init.namespace) throw new OwError(403, MESSAGES.forbidden)
  const collection = m[2]
  const rest = m[3] === undefined ? undefined : decodePart(m[3])
  switch (collection) {
    case undefined:
      if (method !== 'GET') notAllowed('GET')
      return {
        status: 200,
        body: { actions: await listActions(c, q), packages: [], triggers: [], rules: [] },
      }
    case 'actions':
      return rest === undefined ? actionsCollection(c, method, q) : action(c, init, req, rest, q)
    case 'activations':
      if (method !== 'GET') notAllowed('GET')
      return rest === undefined ? listActivations(c, q) : activation(c, rest)
    case 'packages':
    case 'triggers':
    case 'rules':
      // Not supported yet: empty lists keep `wsk list` and dashboards working.
      if (rest === undefined && method === 'GET') return { status: 200, body: [] }
      throw owNotFound()
    default:
      throw owNotFound()
  }
}

async function listActions(c: ApiContext, q: URLSearchParams) {
  const limit = queryInt(q, 'limit', 30, 0, 200, 'actions')
  const skip = queryInt(q, 'skip', 0, 0, Number.MAX_SAFE_INTEGER, 'actions')
  const all = (await c.functions.list()).sort((a, b) => (a.updated < b.updated ? 1 : -1))
  return all.slice(skip, limit === 0 ? undefined : skip + limit).map((fn) => toOwAction(fn, null))
}

async function actionsCollection(c: ApiContext, method: string, q: URLSearchParams): Promise<Reply> {
  if (method !== 'GET') notAllowed('GET')
  if (queryFlag(q, 'count')) return { status: 200, body: { actions: (await c.functions.list()).length } }
  return { status: 200, body: await listActions(c, q) }
}

async function action(
  c: ApiContext,
  init: OpenWhiskApiInit,
  req: IncomingMessage,
  name: string,
  q: URLSearchParams,
): Promise<Reply> {
  if (!NAME.test(name)) throw owNotFound()
  switch (req.method) {
    case 'GET': {
      const fn = await c.functions.get(name)
      const code = queryFlag(q, 'code', true) ? await c.store.functions.code(fn) : null
      return { status: 200, body: toOwAction(fn, code) }
    }
    case 'PUT': {
      const body = await readJsonBody(req, init.maxBodyBytes)
      const { record } = await c.functions.put(name, fromOwPut(body, queryFlag(q, 'overwrite')))
      return { status: 200, body: toOwAction(record, null) }
    }
    case 'DELETE': {
      const fn = await c.functions.remove(name)
      return { status: 200, body: toOwAction(fn, null) }
    }
    case 'POST': {
      const params = await readJsonBody(req, init.maxPayloadBytes)
      if (typeof params !== 'object' || params === null || Array.isArray(params)) {
        throw new OwError(400, 'The request content was malformed:\nparameters must be a JSON object')
      }
      const blocking = queryFlag(q, 'blocking')
      const result = queryFlag(q, 'result')
      const out = await invokeAction(c, name, params as Record<string, unknown>, {
        blocking,
        blockingWaitMs: init.blockingWaitMs,
      })
      if (!out.done) return { status: 202, body: { activationId: out.activationId } }
      const r = out.record.response
      const body = result ? (r.result ?? {}) : out.record
      // OpenWhisk: success 200; application or developer error 502; whisk internal error 500.
      const status = r.success ? 200 : r.status === 'whisk internal error' ? 500 : 502
      return { status, body, headers: { 'x-openwhisk-activation-id': out.record.activationId } }
    }
    default:
      notAllowed('GET, PUT, DELETE, POST')
  }
}

async function activation(c: ApiContext, rest: string): Promise<Reply> {
  const m = /^([0-9a-f]{32})(?:\/(result|logs))?$/.exec(rest)
  if (!m) throw owNotFound()
  const rec = await c.store.activations.get(m[1]!)
  if (!rec) throw owNotFound()
  if (m[2] === 'logs') return { status: 200, body: { logs: rec.logs } }
  if (m[2] === 'result') {
    const { status, success, result, size } = rec.response
    return {
      status: 200,
      body: { result: result ?? {}, status, success, ...(size !== undefined ? { size } : {}) },
    }
  }
  return { status: 200, body: rec }
}
