import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { errors } from './errors.ts'

export const IDENTITY_FILE = 'identity.key'

/** The node's persistent libp2p Ed25519 identity, created on first start (0600). Its peer id is the node id. */
export async function loadOrCreateIdentity(
  dataDir: string,
): Promise<{ privateKey: PrivateKey; peerId: string }> {
  const file = join(dataDir, IDENTITY_FILE)
  let privateKey: PrivateKey
  if (existsSync(file)) {
    try {
      privateKey = privateKeyFromProtobuf(await readFile(file))
    } catch (err) {
      throw errors.invalidConfig(
        `the node identity ${file} is corrupt; move it away to create a new identity`,
        { cause: err },
      )
    }
  } else {
    privateKey = await generateKeyPair('Ed25519')
    await writeFile(file, privateKeyToProtobuf(privateKey), { mode: 0o600, flag: 'wx' })
  }
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString() }
}
