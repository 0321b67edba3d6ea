import type { ActivationRecord } from '../../store/index.ts'
import type { OpenWhiskApiComponents, Reply } from './components.ts'
import { queryFlag, queryInt } from './query.ts'
import { OwError } from './reply.ts'

const NAME_FILTER = /^[A-Za-z0-9_][A-Za-z0-9_.@-]*(\/[A-Za-z0-9_][A-Za-z0-9_.@-]*)?$/

/** Without `docs`, OpenWhisk lists activations without their response and logs. */
function summary(rec: ActivationRecord) {
  const { response: _r, logs: _l, ...rest } = rec
  return rest
}

/** `GET .../activations?name&limit&skip&since&upto&docs&count`. */
export async function listActivations(c: OpenWhiskApiComponents, q: URLSearchParams): Promise<Reply> {
  const name = q.get('name') ?? undefined
  if (name !== undefined && !NAME_FILTER.test(name)) {
    throw new OwError(400, `Parameter may be a 'simple' name or 'package-name/simple' name: ${name}`)
  }
  const limit = queryInt(q, 'limit', 30, 0, 200, 'activations')
  const skip = queryInt(q, 'skip', 0, 0, Number.MAX_SAFE_INTEGER, 'activations')
  const since = queryInt(q, 'since', -1, 0, Number.MAX_SAFE_INTEGER, 'activations')
  const upto = queryInt(q, 'upto', -1, 0, Number.MAX_SAFE_INTEGER, 'activations')
  const docs = queryFlag(q, 'docs')
  const count = queryFlag(q, 'count')
  if (docs && count) throw new OwError(400, "The parameter 'docs' is not permitted with 'count'.")
  // Merged from every live node (one record per id), so each node lists the same activations.
  const list = await c.activations.list({
    cluster: true,
    limit: count ? Number.MAX_SAFE_INTEGER : limit === 0 ? 200 : limit,
    skip: count ? 0 : skip,
    ...(name ? { name } : {}),
    ...(since >= 0 ? { since } : {}),
    ...(upto >= 0 ? { upto } : {}),
  })
  if (count) return { status: 200, body: { activations: list.length } }
  return { status: 200, body: docs ? list : list.map(summary) }
}
