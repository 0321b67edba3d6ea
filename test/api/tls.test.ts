import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import openwhisk from 'openwhisk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeDir, tempDir } from '../helpers/agent-process.ts'
import { type ApiAgent, Cleanup, startApiAgent } from './helpers.ts'

const cleanup = new Cleanup()
let api: ApiAgent

beforeAll(async () => {
  const dir = tempDir('fnagent-tls-')
  cleanup.add(() => removeDir(dir))
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  )
  api = await startApiAgent(cleanup, {
    env: { FNAGENT_OPENWHISK_API_TLS_CERT: cert, FNAGENT_OPENWHISK_API_TLS_KEY: key },
  })
})
afterAll(() => cleanup.run())

describe('the OpenWhisk API over TLS', () => {
  it('serves HTTPS when openwhiskApi.tlsCert and openwhiskApi.tlsKey are set', async () => {
    expect(api.apihost).toMatch(/^https:\/\//)
    const ow = openwhisk({ apihost: api.apihost, api_key: await api.newKey(), ignore_certs: true })
    expect(await ow.namespaces.list()).toEqual(['guest'])
  })
})
