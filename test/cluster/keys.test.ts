import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { generateClusterKey, readClusterKey, writeClusterKey } from '../../agent/cluster/index.ts'
import { loadOrCreateIdentity } from '../../agent/identity.ts'

describe('cluster key and identity', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fnagent-keys-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('writes a swarm key 0600, reads it back, and refuses to overwrite it', async () => {
    const file = join(dir, 'cluster.key')
    const key = generateClusterKey()
    await writeClusterKey(file, key)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readFileSync(file, 'utf8')).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
    expect(await readClusterKey(file)).toEqual(key)
    await expect(writeClusterKey(file)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' })
  })

  it('a missing or malformed key is a one-line error saying what to do', async () => {
    await expect(readClusterKey(join(dir, 'nope.key'))).rejects.toMatchObject({
      code: 'CLUSTER_KEY_MISSING',
      message: expect.stringMatching(/copy the cluster's key/),
    })
    const bad = join(dir, 'bad.key')
    writeFileSync(bad, 'hello\n')
    await expect(readClusterKey(bad)).rejects.toMatchObject({ code: 'CLUSTER_KEY_INVALID' })
  })

  it('the identity is created once and kept', async () => {
    const a = await loadOrCreateIdentity(dir)
    const b = await loadOrCreateIdentity(dir)
    expect(a.privateKey.equals(b.privateKey)).toBe(true)
    expect(a.peerId).toBe(b.peerId)
    expect(statSync(join(dir, 'identity.key')).mode & 0o777).toBe(0o600)
  })
})
