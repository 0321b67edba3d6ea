import type { IncomingMessage } from 'node:http'
import { toFnError } from '../../errors.ts'
import type { EventService } from '../../events/index.ts'
import { hlcWall } from '../../store/hlc.ts'
import type { RuleRecord, TriggerRecord } from '../../store/index.ts'
import { fromPairs, toPairs } from './actions.ts'
import { readJsonBody } from './body.ts'
import type { OpenWhiskApiInit, Reply } from './components.ts'
import { checkEntityName, notInCollection } from './names.ts'
import { queryFlag, queryInt } from './query.ts'
import { OwError } from './reply.ts'

const path = (ns: string, name: string) => {
  const i = name.lastIndexOf('/')
  return i < 0 ? { name, path: ns } : { name: name.slice(i + 1), path: `${ns}/${name.slice(0, i)}` }
}

/** A trigger in OpenWhisk's JSON shape (`WhiskTrigger`), with the rules that name it. */
function toOwTrigger(t: TriggerRecord, rules?: RuleRecord[]) {
  return {
    namespace: t.namespace,
    name: t.name,
    version: `0.0.${t.version}`,
    publish: t.publish,
    parameters: toPairs(t.parameters),
    annotations: toPairs(t.annotations),
    limits: {},
    updated: hlcWall(t.updated),
    ...(rules && rules.length > 0
      ? {
          rules: Object.fromEntries(
            rules.map((r) => [
              `${r.namespace}/${r.name}`,
              { action: path(r.action.namespace, r.action.name), status: r.status },
            ]),
          ),
        }
      : {}),
  }
}

/** A rule in OpenWhisk's JSON shape (`WhiskRuleResponse`). */
function toOwRule(r: RuleRecord) {
  return {
    namespace: r.namespace,
    name: r.name,
    version: `0.0.${r.version}`,
    publish: r.publish,
    annotations: toPairs(r.annotations),
    status: r.status,
    trigger: path(r.trigger.namespace, r.trigger.name),
    action: path(r.action.namespace, r.action.name),
    updated: hlcWall(r.updated),
  }
}

function page<T>(all: T[], q: URLSearchParams, collection: string): Reply {
  const limit = queryInt(q, 'limit', 30, 0, 200, collection)
  const skip = queryInt(q, 'skip', 0, 0, Number.MAX_SAFE_INTEGER, collection)
  if (queryFlag(q, 'count')) return { status: 200, body: { [collection]: all.length } }
  return { status: 200, body: all.slice(skip, limit === 0 ? undefined : skip + limit) }
}

type ActionNames = Parameters<typeof notInCollection>[0]

function notAllowed(allow: string): never {
  throw new OwError(405, `HTTP method not allowed, supported methods: ${allow}`, { allow })
}

/** `…/triggers[/{name}]`: list, get, put (create/update), delete, and POST to fire. */
export async function triggersRoute(
  events: EventService,
  functions: ActionNames,
  init: OpenWhiskApiInit,
  req: IncomingMessage,
  name: string | undefined,
  q: URLSearchParams,
  caller: { namespace: string; subject: string },
): Promise<Reply> {
  const method = req.method ?? 'GET'
  const ns = caller.namespace
  if (name === undefined) {
    if (method !== 'GET') throw new OwError(404, 'The requested resource does not exist.')
    return page(
      (await events.listTriggers(ns)).map((t) => toOwTrigger(t)),
      q,
      'triggers',
    )
  }
  checkEntityName(name)
  const other = notInCollection(functions, ns, name)
  switch (method) {
    case 'GET': {
      const t = await events.getTrigger(ns, name).catch(other)
      return { status: 200, body: toOwTrigger(t, await events.rulesOf(t)) }
    }
    case 'PUT': {
      const body = ((await readJsonBody(req, init.maxBodyBytes)) ?? {}) as Record<string, unknown>
      const input = {
        ...(Array.isArray(body.parameters) ? { parameters: fromPairs(body.parameters as never) } : {}),
        ...(Array.isArray(body.annotations) ? { annotations: fromPairs(body.annotations as never) } : {}),
        ...(typeof body.publish === 'boolean' ? { publish: body.publish } : {}),
      }
      return {
        status: 200,
        body: toOwTrigger(await events.putTrigger(ns, name, input, queryFlag(q, 'overwrite'))),
      }
    }
    case 'DELETE':
      return { status: 200, body: toOwTrigger(await events.deleteTrigger(ns, name).catch(other)) }
    case 'POST': {
      const payload = (await readJsonBody(req, init.maxPayloadBytes)) ?? {}
      if (typeof payload !== 'object' || Array.isArray(payload))
        throw new OwError(400, 'The request content was malformed: a trigger payload is a JSON object.')
      const id = await events.fire(ns, name, payload as Record<string, unknown>, caller.subject).catch(other)
      // No active rule: OpenWhisk answers 204 and records nothing.
      return id === null ? { status: 204, body: undefined } : { status: 202, body: { activationId: id } }
    }
    default:
      return notAllowed('GET, PUT, DELETE, POST')
  }
}

/** `…/rules[/{name}]`: list, get, put (create/update), delete, and POST `{status}` to enable or disable. */
export async function rulesRoute(
  events: EventService,
  functions: ActionNames,
  init: OpenWhiskApiInit,
  req: IncomingMessage,
  name: string | undefined,
  q: URLSearchParams,
  namespace: string,
): Promise<Reply> {
  const method = req.method ?? 'GET'
  if (name === undefined) {
    if (method !== 'GET') throw new OwError(404, 'The requested resource does not exist.')
    return page((await events.listRules(namespace)).map(toOwRule), q, 'rules')
  }
  checkEntityName(name)
  const other = notInCollection(functions, namespace, name)
  switch (method) {
    case 'GET':
      return { status: 200, body: toOwRule(await events.getRule(namespace, name).catch(other)) }
    case 'PUT': {
      const body = ((await readJsonBody(req, init.maxBodyBytes)) ?? {}) as Record<string, unknown>
      const input = {
        ...(body.trigger !== undefined ? { trigger: body.trigger } : {}),
        ...(body.action !== undefined ? { action: body.action } : {}),
        ...(body.status !== undefined ? { status: body.status } : {}),
        ...(Array.isArray(body.annotations) ? { annotations: fromPairs(body.annotations as never) } : {}),
        ...(typeof body.publish === 'boolean' ? { publish: body.publish } : {}),
      }
      const rule = await events
        .putRule(namespace, name, input, queryFlag(q, 'overwrite'))
        .catch((err: unknown) => {
          // A missing trigger or action is named (OpenWhisk's message), not the bare 404 of the rule's path.
          const e = toFnError(err)
          throw e.code === 'NOT_FOUND' ? new OwError(404, e.message) : err
        })
      return { status: 200, body: toOwRule(rule) }
    }
    case 'DELETE':
      return { status: 200, body: toOwRule(await events.deleteRule(namespace, name).catch(other)) }
    case 'POST': {
      const body = ((await readJsonBody(req, init.maxPayloadBytes)) ?? {}) as { status?: unknown }
      return {
        status: 200,
        body: toOwRule(await events.setRuleStatus(namespace, name, body.status).catch(other)),
      }
    }
    default:
      return notAllowed('GET, PUT, DELETE, POST')
  }
}
