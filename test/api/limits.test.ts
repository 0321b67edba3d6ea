import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait-for.ts'
import { type ApiAgent, Cleanup, owFetch, startApiAgent } from './helpers.ts'

const cleanup = new Cleanup()
let api: ApiAgent
let flooder: string
let other: string
let slow: string

beforeAll(async () => {
  api = await startApiAgent(cleanup, {
    env: {
      FNAGENT_OPENWHISK_API_RATE_LIMIT_PER_MINUTE: '60',
      FNAGENT_OPENWHISK_API_RATE_LIMIT_BURST: '10',
      FNAGENT_OPENWHISK_API_MAX_BODY_BYTES: '4096',
      FNAGENT_OPENWHISK_API_HEADERS_TIMEOUT_MS: '1000',
      FNAGENT_OPENWHISK_API_BLOCKING_WAIT_MS: '1500',
    },
  })
  flooder = await api.newKey('flooder')
  other = await api.newKey('other')
  slow = await api.newKey('slow')
})
afterAll(() => cleanup.run())

const list = (key: string) => owFetch(api.apihost, key, 'GET', '/api/v1/namespaces/_/actions')

describe('limits of the OpenWhisk API', () => {
  it('answers 429 to a flooding key while another key still gets through', async () => {
    const flood = await Promise.all(Array.from({ length: 40 }, () => list(flooder)))
    const throttled = flood.filter((r) => r.status === 429)
    expect(flood.filter((r) => r.status === 200).length).toBeLessThanOrEqual(11)
    expect(throttled.length).toBeGreaterThanOrEqual(29)
    expect(throttled[0]!.body).toMatchObject({
      error: expect.stringMatching(/^Too many requests in the last minute \(count: \d+, allowed: 60\)\.$/),
      code: expect.stringMatching(/^[0-9a-f]{32}$/),
    })
    // The flooder's bucket is empty; the other key's is not.
    const [mine, theirs] = await Promise.all([list(flooder), list(other)])
    expect(mine.status).toBe(429)
    expect(theirs.status).toBe(200)
  })

  it('refuses a body over openwhiskApi.maxBodyBytes with 413', async () => {
    const r = await owFetch(api.apihost, other, 'PUT', '/api/v1/namespaces/_/actions/big', {
      exec: { kind: 'nodejs:24', code: `// ${'x'.repeat(8000)}` },
    })
    expect(r.status).toBe(413)
    expect(r.body).toMatchObject({
      error: expect.stringMatching(/^Request larger than allowed: \d+ > 4096 bytes\.$/),
    })
  })

  it('drops a client that never finishes its headers', async () => {
    const { hostname, port } = new URL(api.apihost)
    const started = Date.now()
    const answer = await new Promise<string>((resolve) => {
      const s = connect(Number(port), hostname, () => s.write('GET /api/v1 HTTP/1.1\r\nHost: x\r\n'))
      let got = ''
      s.on('data', (d) => {
        got += d
      })
      s.on('close', () => resolve(got))
      s.on('error', () => resolve(got))
    })
    expect(Date.now() - started).toBeLessThan(5000)
    expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true)
  })

  it('answers a blocking invocation that outlasts the wait with 202 and the activation id', async () => {
    const code = 'function main() { return new Promise((r) => setTimeout(() => r({ done: true }), 4000)) }'
    const put = await owFetch(api.apihost, slow, 'PUT', '/api/v1/namespaces/_/actions/sleepy', {
      exec: { kind: 'nodejs:24', code },
      limits: { timeout: 20000 },
    })
    expect(put.status).toBe(200)
    const started = Date.now()
    const r = await owFetch(
      api.apihost,
      slow,
      'POST',
      '/api/v1/namespaces/_/actions/sleepy?blocking=true',
      {},
    )
    expect(r.status).toBe(202)
    expect(Date.now() - started).toBeLessThan(4000)
    const { activationId } = r.body as { activationId: string }
    expect(activationId).toMatch(/^[0-9a-f]{32}$/)
    const done = await waitFor(
      async () => {
        const a = await owFetch(
          api.apihost,
          slow,
          'GET',
          `/api/v1/namespaces/_/activations/${activationId}/result`,
        )
        return a.status === 200 ? a.body : null
      },
      { what: 'the activation to finish', timeoutMs: 20_000, everyMs: 1000 },
    )
    expect(done).toMatchObject({ result: { done: true }, success: true })
  })
})
