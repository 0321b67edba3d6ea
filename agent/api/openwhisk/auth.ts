import type { IncomingMessage } from 'node:http'
import type { ApiKeyStore, ApiKeySubject } from './keys.ts'

/** `uuid:key` from `Authorization: Basic base64(uuid:key)`, unchecked; null when absent or malformed. */
export function basicCredentials(req: IncomingMessage): string | null {
  const header = req.headers.authorization
  if (!header) return null
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
  if (!m) return null
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8')
  return decoded.includes(':') ? decoded : null
}

/** The API key's uuid and namespace when `Authorization: Basic base64(uuid:key)` is valid, else null. */
export async function authenticate(req: IncomingMessage, keys: ApiKeyStore): Promise<ApiKeySubject | null> {
  const decoded = basicCredentials(req)
  if (!decoded) return null
  const colon = decoded.indexOf(':')
  return keys.verify(decoded.slice(0, colon), decoded.slice(colon + 1))
}
