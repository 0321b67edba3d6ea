import { isFnError } from '../../errors.ts'
import { type ActivationRecord, MAX_SCAN, NAME_RE } from '../../store/index.ts'
import type { OpenWhiskApiComponents, Reply } from './components.ts'
import { checkActivationId } from './names.ts'
import { queryFlag, queryInt } from './query.ts'
import { OwError, owNotFound } from './reply.ts'

/** Without `docs`, OpenWhisk lists activations without their response and logs. */
function summary(rec: ActivationRecord) {
  const { response: _r, logs: _l, ...rest } = rec
  return rest
}

/** `GET .../activations?name&limit&skip&since&upto&docs&count`. */
export async function listActivations(
  c: OpenWhiskApiComponents,
  q: URLSearchParams,
  namespace: string,
): Promise<Reply> {
  const name = q.get('name') ?? undefined
  if (name !== undefined && !NAME_RE.test(name)) {
    throw new OwError(400, `Parameter may be a 'simple' name or 'package-name/simple' name: ${name}`)
  }
  const limit = queryInt(q, 'limit', 30, 0, 200, 'activations')
  const skip = queryInt(q, 'skip', 0, 0, MAX_SCAN, 'activations')
  const since = queryInt(q, 'since', -1, 0, Number.MAX_SAFE_INTEGER, 'activations')
  const upto = queryInt(q, 'upto', -1, 0, Number.MAX_SAFE_INTEGER, 'activations')
  const docs = queryFlag(q, 'docs')
  const count = queryFlag(q, 'count')
  if (docs && count) throw new OwError(400, "The parameter 'docs' is not permitted with 'count'.")
  const filter = {
    namespace,
    ...(name ? { name } : {}),
    ...(since >= 0 ? { since } : {}),
    ...(upto >= 0 ? { upto } : {}),
  }
  // Counted on this node's time index alone, bounded like a listing (store/activations.ts MAX_SCAN):
  // a count over the cluster would load every record.
  if (count)
    return { status: 200, body: { activations: (await c.store.activations.countMatching(filter)).count } }
  // Merged from every live node (one record per id), so each node lists the same activations.
  const list = await c.activations.list({ cluster: true, limit: limit === 0 ? 200 : limit, skip, ...filter })
  return { status: 200, body: docs ? list : list.map(summary) }
}

/** `GET .../activations/{id}[/result|/logs]`; a malformed id is 400, as OpenWhisk answers. */
export async function getActivation(
  c: OpenWhiskApiComponents,
  rest: string,
  namespace: string,
): Promise<Reply> {
  const [id = '', part, ...more] = rest.split('/')
  checkActivationId(id)
  if (more.length > 0 || (part !== undefined && part !== 'result' && part !== 'logs')) throw owNotFound()
  // Any node answers for the cluster: a record not held here is fetched from its owners or peers.
  const rec = await c.activations.get(id, namespace).catch((err: unknown) => {
    if (isFnError(err) && err.code === 'NOT_FOUND') throw owNotFound()
    throw err
  })
  if (part === 'logs') return { status: 200, body: { logs: rec.logs } }
  if (part === 'result') {
    const { status, success, result, size } = rec.response
    return {
      status: 200,
      body: { result: result ?? {}, status, success, ...(size !== undefined ? { size } : {}) },
    }
  }
  return { status: 200, body: rec }
}
