import type { IncomingMessage } from 'node:http'
import { OwError } from './reply.ts'

/** Reads the whole body up to `maxBytes` (413 beyond, OpenWhisk's wording). */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > maxBytes) throw tooLarge(declared, maxBytes)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > maxBytes) throw tooLarge(size, maxBytes)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

function tooLarge(size: number, max: number): OwError {
  return new OwError(413, `Request entity too large: ${size} > ${max} bytes.`, { connection: 'close' })
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
