import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { errors } from '../errors.ts'

/**
 * The cluster key is a libp2p pnet "swarm key" file: every node of a cluster holds the same
 * 32 random bytes; a node with another key cannot complete a connection.
 */
const HEADER = '/key/swarm/psk/1.0.0/\n/base16/\n'
const KEY_RE = /^\/key\/swarm\/psk\/1\.0\.0\/\r?\n\/base16\/\r?\n([0-9a-fA-F]{64})\s*$/

export const clusterKeyErrors = {
  missing: (file: string) =>
    errors.clusterKeyMissing(
      `no cluster key at ${file}: copy the cluster's key file there (or generate one for a new cluster)`,
    ),
  invalid: (file: string, cause?: unknown) =>
    errors.clusterKeyInvalid(
      `${file} is not a cluster key (expected a pnet swarm key: 3 lines, 64 hex digits): copy the cluster's key file again`,
      { cause },
    ),
}

/** A new cluster key in the pnet swarm key file format. */
export function generateClusterKey(): Uint8Array {
  return new TextEncoder().encode(`${HEADER}${randomBytes(32).toString('hex')}\n`)
}

/** True when `key` is a well-formed swarm key. */
export function isClusterKey(key: Uint8Array): boolean {
  return KEY_RE.test(new TextDecoder().decode(key))
}

/** Writes a cluster key (a new one unless given) with mode 0600; refuses to overwrite an existing file. */
export async function writeClusterKey(file: string, key: Uint8Array = generateClusterKey()): Promise<void> {
  if (!isClusterKey(key)) throw clusterKeyErrors.invalid(file)
  try {
    await writeFile(file, key, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw errors.conflict(`${file} already exists; remove it first to replace the cluster key`, {
        cause: err,
      })
    throw err
  }
}

/** Reads and checks a cluster key file. */
export async function readClusterKey(file: string): Promise<Uint8Array> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw clusterKeyErrors.missing(file)
    throw clusterKeyErrors.invalid(file, err)
  }
  if (!isClusterKey(bytes)) throw clusterKeyErrors.invalid(file)
  return new Uint8Array(bytes)
}
