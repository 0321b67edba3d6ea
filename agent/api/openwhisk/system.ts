import type { IncomingMessage } from 'node:http'
import { toFnError } from '../../errors.ts'
import { ALARM_FEEDS, type AlarmFeed } from '../../events/schedule.ts'
import { newActivationId } from '../../store/index.ts'
import { readJsonBody } from './body.ts'
import type { ApiContext, OpenWhiskApiInit, Reply } from './components.ts'
import { queryFlag } from './query.ts'
import { MESSAGES, OwError, owNotFound } from './reply.ts'

/** The shared system namespace, as OpenWhisk's catalog: it holds the `alarms` package. */
export const SYSTEM_NAMESPACE = 'whisk.system'

const FEED_DOCS: Record<AlarmFeed, string> = {
  alarm: 'Fire the trigger on a cron schedule (cron, timezone, startDate, stopDate, trigger_payload)',
  interval: 'Fire the trigger every few minutes (minutes, startDate, stopDate, trigger_payload)',
  once: 'Fire the trigger once (date, deleteAfterFire, trigger_payload)',
}

const feedAction = (feed: AlarmFeed) => ({
  namespace: `${SYSTEM_NAMESPACE}/alarms`,
  name: feed,
  version: '0.0.1',
  publish: true,
  annotations: [
    { key: 'feed', value: true },
    { key: 'description', value: FEED_DOCS[feed] },
  ],
})

/**
 * `/namespaces/whisk.system/…`, open to every key: the `alarms` package and its feed actions,
 * built into the agent (no container runs them). Invoking a feed action is how OpenWhisk's clients
 * create, read, update and delete a trigger's feed (`wsk trigger create T --feed
 * /whisk.system/alarms/alarm -p cron …`); a feed that fails answers as a failed action does (502
 * with the activation, its `error` saying why), so the client deletes the trigger it just made.
 */
export async function systemRoute(
  c: ApiContext,
  init: OpenWhiskApiInit,
  req: IncomingMessage,
  collection: string | undefined,
  rest: string | undefined,
  q: URLSearchParams,
  caller: { namespace: string; subject: string },
): Promise<Reply> {
  const method = req.method ?? 'GET'
  if (collection === 'packages' && method === 'GET') {
    if (rest === undefined) return { status: 200, body: [alarmsPackage(false)] }
    if (rest === 'alarms') return { status: 200, body: alarmsPackage(true) }
    throw owNotFound()
  }
  const m = collection === 'actions' && rest ? /^alarms\/([a-z]+)$/.exec(rest) : null
  const feed = ALARM_FEEDS.find((f) => f === m?.[1])
  if (!feed || !c.alarms) {
    if (collection === 'actions' || collection === 'packages') throw owNotFound()
    throw new OwError(403, MESSAGES.forbidden)
  }
  if (method === 'GET') return { status: 200, body: feedAction(feed) }
  if (method !== 'POST') throw new OwError(403, MESSAGES.forbidden)
  const params = (await readJsonBody(req, init.maxPayloadBytes)) ?? {}
  if (typeof params !== 'object' || Array.isArray(params))
    throw new OwError(400, 'The request content was malformed:\nparameters must be a JSON object')
  const start = Date.now()
  let result: Record<string, unknown>
  let failed = false
  try {
    result = await c.alarms.feed(feed, params as Record<string, unknown>, caller)
  } catch (err) {
    const e = toFnError(err)
    if (!e.expose) throw err
    failed = true
    result = { error: e.message }
  }
  const activationId = newActivationId()
  if (!queryFlag(q, 'blocking')) {
    if (failed) throw new OwError(400, String(result.error))
    return { status: 202, body: { activationId } }
  }
  const record = {
    activationId,
    namespace: caller.namespace,
    name: feed,
    subject: caller.subject,
    version: '0.0.1',
    publish: false,
    start,
    end: Date.now(),
    duration: Date.now() - start,
    response: failed
      ? { status: 'application error', statusCode: 1, success: false, result }
      : { status: 'success', statusCode: 0, success: true, result },
    logs: [],
    annotations: [
      { key: 'path', value: `${SYSTEM_NAMESPACE}/alarms/${feed}` },
      { key: 'kind', value: 'feed' },
    ],
  }
  const headers = { 'x-openwhisk-activation-id': activationId }
  return { status: failed ? 502 : 200, body: queryFlag(q, 'result') ? result : record, headers }
}

function alarmsPackage(withActions: boolean) {
  return {
    namespace: SYSTEM_NAMESPACE,
    name: 'alarms',
    version: '0.0.1',
    publish: true,
    binding: {},
    parameters: [],
    annotations: [{ key: 'description', value: 'Alarms and periodic utility' }],
    ...(withActions ? { actions: ALARM_FEEDS.map((f) => ({ ...feedAction(f), namespace: undefined })) } : {}),
  }
}
