import { type ActivationRecord, MAX_SCAN } from '../../store/index.ts'
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
  const skip = queryInt(q, 'skip', 0, 0, MAX_SCAN, 'activations')
  const since = queryInt(q, 'since', -1, 0, Number.MAX_SAFE_INTEGER, 'activations')
  const upto = queryInt(q, 'upto', -1, 0, Number.MAX_SAFE_INTEGER, 'activations')
  const docs = queryFlag(q, 'docs')
  const count = queryFlag(q, 'count')
  if (docs && count) throw new OwError(400, "The parameter 'docs' is not permitted with 'count'.")
  const filter = {
    ...(name ? { name } : {}),
    ...(since >= 0 ? { since } : {}),
    ...(upto >= 0 ? { upto } : {}),
  }
  // Counted on the index alone, bounded like a listing (store/activations.ts MAX_SCAN).
  if (count)
    return { status: 200, body: { activations: (await c.store.activations.countMatching(filter)).count } }
  const list = await c.activations.list({ limit: limit === 0 ? 200 : limit, skip, ...filter })
  return { status: 200, body: docs ? list : list.map(summary) }
}
