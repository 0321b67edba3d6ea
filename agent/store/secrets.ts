import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { errors } from '../errors.ts'
import type { FunctionRecord } from './types.ts'

const PREFIX = 'fnsec1'
const INFO = 'fnagent function secrets v1'

/** The redacted stand-in for a secret value (`fn get`, the REST API). */
export const REDACTED = '<redacted>'

/** A 256-bit AES key from the cluster's secret material (the pnet key, or a node's own secrets key). */
export function deriveSecretsKey(material: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', material, 'fnagent', INFO, 32))
}

/**
 * Seals and opens the secret parameters and env of functions with AES-256-GCM under a key derived
 * from the cluster key (HKDF), so every node of the cluster opens what any node sealed, and
 * neither LevelDB nor the replication wire ever holds a secret in clear. A sealed value is
 * `fnsec1:<iv>:<ciphertext>:<tag>` (base64url), of the JSON of the value; the function's path is
 * the additional data, so a sealed value moved to another function does not open.
 */
export class SecretBox {
  readonly #key: Buffer

  constructor(key: Buffer) {
    if (key.length !== 32) throw errors.internal('a secrets key is 32 bytes')
    this.#key = key
  }

  seal(path: string, value: unknown): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    cipher.setAAD(Buffer.from(path))
    const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()])
    const b64 = (b: Buffer) => b.toString('base64url')
    return `${PREFIX}:${b64(iv)}:${b64(ct)}:${b64(cipher.getAuthTag())}`
  }

  open(path: string, sealed: string): unknown {
    const [prefix, iv, ct, tag] = sealed.split(':')
    if (prefix !== PREFIX || !iv || ct === undefined || !tag) throw errors.internal('not a sealed secret')
    try {
      const d = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'))
      d.setAAD(Buffer.from(path))
      d.setAuthTag(Buffer.from(tag, 'base64url'))
      const text = Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8')
      return JSON.parse(text)
    } catch (err) {
      throw errors.internal(`a secret of ${path} does not open with this cluster's key`, { cause: err })
    }
  }

  /** Seals each value of `values` (secret parameters or env) for the function `path`. */
  sealAll(path: string, values: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, this.seal(`${path}#${k}`, v)]))
  }

  /** The clear secret parameters and env of a function version (for its container only). */
  openFn(fn: FunctionRecord): { parameters: Record<string, unknown>; env: Record<string, string> } {
    const path = `${fn.namespace}/${fn.name}`
    const open = (o: Record<string, string> | undefined) =>
      Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k, this.open(`${path}#${k}`, v)]))
    const env = open(fn.secrets?.env)
    return {
      parameters: open(fn.secrets?.parameters),
      env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])),
    }
  }
}

/** A function with its secret values replaced by `REDACTED` (or opened, for the owner who asks). */
export function showSecrets(fn: FunctionRecord, box: SecretBox | null, reveal: boolean): FunctionRecord {
  if (!fn.secrets) return fn
  if (reveal && box) {
    const open = box.openFn(fn)
    return { ...fn, secrets: { parameters: open.parameters as Record<string, string>, env: open.env } }
  }
  const redact = (o: Record<string, string> | undefined) =>
    o && Object.fromEntries(Object.keys(o).map((k) => [k, REDACTED]))
  const secrets: NonNullable<FunctionRecord['secrets']> = {}
  const parameters = redact(fn.secrets.parameters)
  const env = redact(fn.secrets.env)
  if (parameters) secrets.parameters = parameters
  if (env) secrets.env = env
  return { ...fn, secrets }
}
