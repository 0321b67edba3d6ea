import type { IncomingMessage } from 'node:http'
import { BodyTooLarge, readLimited } from '../body-limit.ts'
import { OwError } from './reply.ts'

/** Reads the whole body up to `maxBytes`: 413 with OpenWhisk's wording past it, before buffering more. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  try {
    return await readLimited(req, maxBytes)
  } catch (err) {
    if (err instanceof BodyTooLarge) throw new OwError(413, err.message, { connection: 'close' })
    throw err
  }
}

/** A JSON body (empty → `{}`); the REST API takes JSON whatever the content type says, as OpenWhisk does. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const buf = await readBody(req, maxBytes)
  if (buf.length === 0) return {}
  try {
    return JSON.parse(buf.toString('utf8'))
  } catch {
    throw new OwError(400, 'The request content was malformed:\nrequest body is not valid JSON')
  }
}

/** Whether a content type carries text (sent to actions as is) rather than bytes (sent as base64). */
export function isTextType(contentType: string | undefined): boolean {
  if (!contentType) return true
  const t = contentType.split(';')[0]!.trim().toLowerCase()
  return (
    t.startsWith('text/') ||
    /[/+](json|xml|javascript|x-www-form-urlencoded|graphql|yaml)$/.test(t) ||
    t === 'application/ecmascript'
  )
}
