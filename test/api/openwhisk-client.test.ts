import openwhisk from 'openwhisk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait-for.ts'
import { type ApiAgent, Cleanup, owFetch, startApiAgent } from './helpers.ts'

const HELLO =
  "function main(params) { console.log('hi ' + params.name); return { payload: 'Hello, ' + params.name } }"
const FAILS = "function main() { return Promise.reject('no luck') }"

const cleanup = new Cleanup()
let api: ApiAgent
let key: string
let ow: ReturnType<typeof openwhisk>

beforeAll(async () => {
  api = await startApiAgent(cleanup)
  key = await api.newKey('client test')
  ow = openwhisk({ apihost: api.apihost, api_key: key })
})
afterAll(() => cleanup.run())

/** What the openwhisk client throws: statusCode and OpenWhisk's error body. */
async function owError(
  p: Promise<unknown>,
): Promise<{ statusCode: number; error: { error: string; code: string } }> {
  try {
    await p
  } catch (err) {
    return err as { statusCode: number; error: { error: string; code: string } }
  }
  throw new Error('expected the call to fail')
}

describe('the openwhisk npm client against the agent', () => {
  it('creates, gets, lists, updates and deletes an action', async () => {
    const created = await ow.actions.create({ name: 'hello', action: HELLO, kind: 'nodejs:default' })
    expect(created).toMatchObject({
      namespace: 'guest',
      name: 'hello',
      version: '0.0.1',
      publish: false,
      exec: { kind: 'nodejs:24', binary: false },
      limits: { timeout: 60000, memory: 256, logs: 10, concurrency: 1 },
    })
    expect(created.annotations).toContainEqual({ key: 'exec', value: 'nodejs:24' })
    expect(typeof (created as { updated?: unknown }).updated).toBe('number')

    const got = await ow.actions.get({ name: 'hello' })
    expect(got.exec).toMatchObject({ kind: 'nodejs:24', binary: false, code: HELLO })
    const noCode = await owFetch(api.apihost, key, 'GET', '/api/v1/namespaces/_/actions/hello?code=false')
    expect((noCode.body as { exec: object }).exec).toEqual({ kind: 'nodejs:24', binary: false })

    const list = (await ow.actions.list()) as Array<{ name: string; exec: { code?: string } }>
    expect(list.map((a) => a.name)).toContain('hello')
    expect(list[0]!.exec.code).toBeUndefined()

    // Without overwrite an existing action is a conflict; with it, a new version.
    const conflict = await owError(ow.actions.create({ name: 'hello', action: HELLO }))
    expect(conflict.statusCode).toBe(409)
    expect(conflict.error.code).toMatch(/^[0-9a-f]{32}$/)
    const updated = await ow.actions.update({
      name: 'hello',
      action: { exec: { kind: 'nodejs:24', code: HELLO }, parameters: [{ key: 'name', value: 'param' }] },
    })
    expect(updated.version).toBe('0.0.2')
    expect(updated.parameters).toEqual([{ key: 'name', value: 'param' }])

    await ow.actions.create({ name: 'temp', action: HELLO, kind: 'nodejs:24' })
    const removed = await ow.actions.delete({ name: 'temp' })
    expect(removed.name).toBe('temp')
    expect((await owError(ow.actions.get({ name: 'temp' }))).statusCode).toBe(404)
  })

  it('invokes blocking with result, and non-blocking then reads the activation, result and logs', async () => {
    await ow.actions.update({ name: 'hello', action: HELLO, kind: 'nodejs:24' })
    const result = await ow.actions.invoke({
      name: 'hello',
      params: { name: 'World' },
      blocking: true,
      result: true,
    })
    expect(result).toEqual({ payload: 'Hello, World' })

    const full = await ow.actions.invoke({ name: 'hello', params: { name: 'Full' }, blocking: true })
    expect(full).toMatchObject({
      name: 'hello',
      namespace: 'guest',
      response: { success: true, status: 'success' },
    })
    expect(full.activationId).toMatch(/^[0-9a-f]{32}$/)

    const { activationId } = await ow.actions.invoke({ name: 'hello', params: { name: 'Async' } })
    expect(activationId).toMatch(/^[0-9a-f]{32}$/)
    const record = await waitFor(() => ow.activations.get({ name: activationId }).catch(() => null), {
      what: 'the async activation record',
      timeoutMs: 30_000,
    })
    expect(record?.response?.result).toEqual({ payload: 'Hello, Async' })
    expect(await ow.activations.result({ name: activationId })).toMatchObject({
      result: { payload: 'Hello, Async' },
      success: true,
      status: 'success',
    })
    const { logs } = (await ow.activations.logs({ name: activationId })) as { logs: string[] }
    expect(logs.some((l) => l.includes('hi Async'))).toBe(true)

    type Listed = Array<{ response?: unknown }>
    const listed = (await ow.activations.list({ name: 'hello', limit: 2 })) as Listed
    expect(listed).toHaveLength(2)
    expect(listed[0].response).toBeUndefined()
    const docs = (await ow.activations.list({ name: 'hello', limit: 1, docs: true })) as Listed
    expect(docs[0].response).toBeDefined()
  })

  it('answers 502 with the result when a blocking action fails', async () => {
    await ow.actions.create({ name: 'fails', action: FAILS, kind: 'nodejs:24' })
    const r = await owFetch(
      api.apihost,
      key,
      'POST',
      '/api/v1/namespaces/_/actions/fails?blocking=true&result=true',
      {},
    )
    expect(r.status).toBe(502)
    expect(JSON.stringify(r.body)).toContain('no luck')
    expect(r.body).toHaveProperty('error')
  })

  it("gives OpenWhisk's error shapes for a missing action and a bad key", async () => {
    const missing = await owError(ow.actions.invoke({ name: 'nope', blocking: true }))
    expect(missing.statusCode).toBe(404)
    expect(missing.error.error).toBe('The requested resource does not exist.')
    expect(missing.error.code).toMatch(/^[0-9a-f]{32}$/)

    const [uuid] = key.split(':')
    const bad = openwhisk({ apihost: api.apihost, api_key: `${uuid}:not-the-key` })
    const denied = await owError(bad.actions.list())
    expect(denied.statusCode).toBe(401)
    expect(denied.error.error).toBe('The supplied authentication is invalid.')
    // A bad key touches nothing.
    const put = await owFetch(api.apihost, `${uuid}:wrong`, 'PUT', '/api/v1/namespaces/_/actions/sneaky', {
      exec: { kind: 'nodejs:24', code: HELLO },
    })
    expect(put.status).toBe(401)
    expect((await owError(ow.actions.get({ name: 'sneaky' }))).statusCode).toBe(404)
  })

  it('serves the API root and namespaces, and stops accepting a revoked key', async () => {
    const root = await owFetch(api.apihost, null, 'GET', '/api/v1')
    expect(root.body).toMatchObject({ api_paths: ['/api/v1'] })
    expect(await ow.namespaces.list()).toEqual(['guest'])
    const other = await owFetch(api.apihost, key, 'GET', '/api/v1/namespaces/someone-else/actions')
    expect(other.status).toBe(403)

    const temp = await api.newKey()
    expect((await owFetch(api.apihost, temp, 'GET', '/api/v1/namespaces/_/actions')).status).toBe(200)
    const list = await api.agent.cli(['--json', 'auth', 'list'])
    const keys = JSON.parse(list.stdout) as Array<{ uuid: string; keyHash?: string }>
    expect(keys.some((k) => k.uuid === temp.split(':')[0])).toBe(true)
    expect(list.stdout).not.toContain(temp.split(':')[1])
    expect(keys.every((k) => k.keyHash === undefined)).toBe(true)
    const revoked = await api.agent.cli(['auth', 'revoke', temp.split(':')[0]!])
    expect(revoked.code, revoked.stderr).toBe(0)
    expect((await owFetch(api.apihost, temp, 'GET', '/api/v1/namespaces/_/actions')).status).toBe(401)
  })
})
