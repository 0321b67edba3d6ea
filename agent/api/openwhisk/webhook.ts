import type { IncomingMessage } from 'node:http'
import { WEBHOOK_SECRET_HEADER } from '../../events/index.ts'
import { readJsonBody } from './body.ts'
import type { ApiContext, OpenWhiskApiInit, Reply } from './components.ts'
import { decodePart, OwError, owNotFound } from './reply.ts'

/**
 * `POST /api/v1/webhooks/{namespace}/{trigger}` with the trigger's secret in `X-Webhook-Secret`:
 * fires the trigger with the JSON body as its payload, no API key (agent/events/webhooks.ts).
 * 202 `{activationId}`, or 204 when no active rule names the trigger (as a fire through the API);
 * no secret 401, a wrong one 403, and nothing is fired.
 */
export async function webhookRoute(
  c: ApiContext,
  init: OpenWhiskApiInit,
  req: IncomingMessage,
  path: string,
): Promise<Reply> {
  const m = /^\/api\/v1\/webhooks\/([^/]+)\/([^/]+)$/.exec(path)
  if (!m || !c.webhooks) throw owNotFound()
  if (req.method !== 'POST')
    throw new OwError(405, 'HTTP method not allowed, supported methods: POST', { allow: 'POST' })
  const header = req.headers[WEBHOOK_SECRET_HEADER]
  const presented = Array.isArray(header) ? header[0] : header
  if (!presented)
    throw new OwError(401, `a webhook needs the trigger's secret in the ${WEBHOOK_SECRET_HEADER} header`)
  const id = await c.webhooks.fire(decodePart(m[1]!), decodePart(m[2]!), presented, async () => {
    const payload = (await readJsonBody(req, init.maxPayloadBytes)) ?? {}
    if (typeof payload !== 'object' || Array.isArray(payload))
      throw new OwError(400, 'The request content was malformed: a trigger payload is a JSON object.')
    return payload as Record<string, unknown>
  })
  return id === null ? { status: 204, body: undefined } : { status: 202, body: { activationId: id } }
}
