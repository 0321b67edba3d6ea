import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ApiAgent, Cleanup, owFetch, startApiAgent } from './helpers.ts'

// A webhook receiver: answers 201 with a header, echoing what it was given.
const HOOK = `function main(p) {
  return {
    statusCode: 201,
    headers: { 'x-hook': 'seen', 'content-type': 'application/json' },
    body: { got: p.event, from: p.source, method: p.__ow_method, path: p.__ow_path, agent: p.__ow_headers['user-agent'] }
  }
}`
const ECHO = 'function main(p) { return { text: "hi " + p.name, html: "<b>" + p.name + "</b>", params: p } }'
const RAW =
  'function main(p) { return { body: p.__ow_query + "|" + Buffer.from(p.__ow_body, "base64").toString() } }'

const cleanup = new Cleanup()
let api: ApiAgent
let key: string

async function put(
  name: string,
  code: string,
  annotations: Array<{ key: string; value: unknown }>,
  params = [],
) {
  const r = await owFetch(api.apihost, key, 'PUT', `/api/v1/namespaces/_/actions/${name}?overwrite=true`, {
    exec: { kind: 'nodejs:default', code },
    annotations,
    parameters: params,
  })
  expect(r.status, JSON.stringify(r.body)).toBe(200)
}

beforeAll(async () => {
  api = await startApiAgent(cleanup)
  key = await api.newKey()
  await put('hook', HOOK, [{ key: 'web-export', value: true }])
  await put('echo', ECHO, [{ key: 'web-export', value: true }], [{ key: 'fixed', value: 'yes' }] as never)
  await put('raw', RAW, [
    { key: 'web-export', value: true },
    { key: 'raw-http', value: true },
  ])
  await put('private', ECHO, [])
})
afterAll(() => cleanup.run())

const web = (path: string, init?: RequestInit) =>
  fetch(`${api.apihost}/api/v1/web/guest/default/${path}`, init)

describe('web actions', () => {
  it('turn a plain HTTP POST with a JSON body into an event, with a custom status and header', async () => {
    const res = await web('hook/some/where', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'github-hookshot' },
      body: JSON.stringify({ event: 'push', source: 'github' }),
    })
    expect(res.status).toBe(201)
    expect(res.headers.get('x-hook')).toBe('seen')
    expect(res.headers.get('x-openwhisk-activation-id')).toMatch(/^[0-9a-f]{32}$/)
    expect(await res.json()).toEqual({
      got: 'push',
      from: 'github',
      method: 'post',
      path: '/some/where',
      agent: 'github-hookshot',
    })
  })

  it('answer .json, .text and .html, merge the query, and keep the action parameters final', async () => {
    const json = await web('echo.json?name=Jane')
    expect(json.headers.get('content-type')).toBe('application/json')
    const body = (await json.json()) as { params: Record<string, unknown> }
    expect(body.params).toMatchObject({ name: 'Jane', fixed: 'yes', __ow_method: 'get', __ow_path: '' })
    expect(await (await web('echo.text?name=Jane')).text()).toBe('hi Jane')
    const html = await web('echo.html?name=Jo')
    expect(html.headers.get('content-type')).toContain('text/html')
    expect(await html.text()).toBe('<b>Jo</b>')
    expect(await (await web('echo.json/params?name=Al')).json()).toMatchObject({ name: 'Al' })
    // OpenWhisk's .json answers only an object or an array; .text takes any value.
    expect((await web('echo.json/params/name?name=Al')).status).toBe(400)
    expect(await (await web('echo.text/params/name?name=Al')).text()).toBe('Al')

    const override = await web('echo.json?fixed=no')
    expect(override.status).toBe(400)
    expect(((await override.json()) as { error: string }).error).toMatch(/not allowed/)
  })

  it('give raw-http actions the query and the body unparsed', async () => {
    const res = await web('raw.http?a=1&b=2', {
      method: 'POST',
      body: 'plain',
      headers: { 'content-type': 'image/png' },
    })
    expect(await res.text()).toBe('a=1&b=2|plain')
  })

  it('answer 404 for an action without web-export, and need no key', async () => {
    const res = await web('private.json')
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ error: 'The requested resource does not exist.' })
    expect((await web('missing.json')).status).toBe(404)
    expect((await fetch(`${api.apihost}/api/v1/web/other-ns/default/echo.json`)).status).toBe(404)
  })
})
