import type { IncomingMessage, ServerResponse } from 'node:http'
import { errors, type FnError } from '../errors.ts'
import { BodyTooLarge, readLimited } from './body-limit.ts'

/** Reads a JSON body up to `maxBytes`; empty body → `{}`. Throws TOO_LARGE / INVALID_JSON / UNSUPPORTED_MEDIA_TYPE. */
export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const type = req.headers['content-type']
  let body: Buffer
  try {
    body = await readLimited(req, maxBytes)
  } catch (err) {
    if (err instanceof BodyTooLarge) throw errors.tooLarge(err.message, { details: { max: maxBytes } })
    throw err
  }
  const size = body.length
  if (size === 0) return {}
  if (type && !/^application\/json\b/i.test(type)) {
    throw errors.unsupportedMediaType(`request body must be application/json, got ${type}`)
  }
  try {
    return JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw errors.invalidJson(`request body is not valid JSON: ${(err as Error).message}`)
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const data = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(data),
    ...headers,
  })
  res.end(data)
}

/** The `Retry-After` header an error asks for (QUEUE_FULL's `details.retryAfterS`), else none. */
export function retryAfterHeader(err: FnError): Record<string, string> {
  const s = err.details?.retryAfterS
  return typeof s === 'number' ? { 'retry-after': String(s) } : {}
}

export function sendError(res: ServerResponse, err: FnError): void {
  if (res.headersSent) {
    res.destroy(err)
    return
  }
  sendJson(
    res,
    err.status,
    { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } },
    retryAfterHeader(err),
  )
}

/** Parses an integer query parameter within bounds; a bad value is a 400 naming it. */
export function intParam(
  q: Record<string, string | undefined>,
  key: string,
  min: number,
  max: number,
): number | undefined {
  const raw = q[key]
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) {
    throw errors.invalidArgument(
      `query parameter '${key}' must be an integer from ${min} to ${max}, got '${raw}'`,
    )
  }
  return n
}

/**
 * Answers 200 with one JSON object a line for as long as `run` runs, which ends when the client
 * goes away. The route's own answer is then ignored (the server sees the headers sent).
 */
export async function streamNdjson(
  req: IncomingMessage,
  res: ServerResponse,
  run: (signal: AbortSignal, emit: (event: unknown) => void) => Promise<void>,
): Promise<void> {
  const ac = new AbortController()
  res.once('close', () => ac.abort(new Error('the client went away')))
  req.socket.setTimeout(0)
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' })
  res.flushHeaders()
  await run(ac.signal, (event) => {
    if (!res.writableEnded) res.write(`${JSON.stringify(event)}\n`)
  })
  if (!res.writableEnded) res.end()
}
