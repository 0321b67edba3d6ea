import type { Reply } from './components.ts'
import { OwError } from './reply.ts'

/** An integer query parameter in [min, max], with OpenWhisk's messages for bad values. */
export function queryInt(
  q: URLSearchParams,
  key: string,
  fallback: number,
  min: number,
  max: number,
  collection: string,
): number {
  const raw = q.get(key)
  if (raw === null || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n)) throw new OwError(400, `The value '${raw}' is not an integer for ${collection}.`)
  if (n < min || n > max) {
    throw new OwError(
      400,
      key === 'skip'
        ? `The value '${n}' is not greater than or equal to 0 for ${collection}.`
        : `The value '${n}' is not in the range of ${min} to ${max} for ${collection}.`,
    )
  }
  return n
}

/** `?flag=true` / `?flag` → true; `?flag=false` → false; absent → `fallback`. */
export function queryFlag(q: URLSearchParams, key: string, fallback = false): boolean {
  const raw = q.get(key)
  if (raw === null) return fallback
  return raw === '' || raw.toLowerCase() === 'true'
}

/** One page of a collection listing (`limit` 0–200, default 30; `skip`), or its size with `count=true`. */
export function page<T>(all: T[], q: URLSearchParams, collection: string): Reply {
  const limit = queryInt(q, 'limit', 30, 0, 200, collection)
  const skip = queryInt(q, 'skip', 0, 0, Number.MAX_SAFE_INTEGER, collection)
  if (queryFlag(q, 'count')) return { status: 200, body: { [collection]: all.length } }
  return { status: 200, body: all.slice(skip, limit === 0 ? undefined : skip + limit) }
}
