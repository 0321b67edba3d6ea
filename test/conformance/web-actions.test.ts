import { beforeAll, describe, expect, it } from 'vitest'
import { basic } from '../api/helpers.ts'
import { conformanceAgent, owError } from './helpers.ts'

// Web actions (WebActionsApiTests, WskWebActionsTests): how a request becomes parameters and a
// result becomes an answer. One echo action answers its parameters; one `.http` action answers
// whatever `{statusCode, headers, body}` it is asked to.
const c = conformanceAgent()

const ECHO = 'function main(p) { return p }'
const HTTP = 'function main(p) { return p.answer }'
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='

const web = (path: string, init?: RequestInit) =>
  fetch(`${c.api.apihost}/api/v1/web/guest/default/${path}`, init)
const json = async (res: Response) => (await res.json()) as Record<string, unknown>
/** The `.http` action answering `answer` (sent as JSON in the body). */
const httpAnswer = (answer: unknown, init: RequestInit = {}) =>
  web('http.http', {
    ...init,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: JSON.stringify({ answer }),
  })

beforeAll(async () => {
  await c.action('echo', ECHO, { annotations: { 'web-export': true } })
  await c.action('http', HTTP, { annotations: { 'web-export': true } })
  await c.action('raw', ECHO, { annotations: { 'web-export': true, 'raw-http': true } })
  await c.action('authed', ECHO, { annotations: { 'web-export': true, 'require-whisk-auth': true } })
  await c.action('custom', HTTP, { annotations: { 'web-export': true, 'web-custom-options': true } })
})

describe('conformance: web action requests', () => {
  it('passes the unmatched path as __ow_path (WebActionsApiTests "pass the unmatched segment to the action")', async () => {
    // As OpenWhisk's test action: the result's `content` holds the parameters, projected by the path.
    await c.action('content', 'function main(p) { return { content: p } }', {
      annotations: { 'web-export': true },
    })
    const body = await json(await web('content.json/content'))
    expect(body.__ow_path).toBe('/content')
    expect(body.__ow_method).toBe('get')
  })

  it('names an authenticated caller in __ow_user (WskWebActionsTests "web action requiring authentication")', async () => {
    expect((await web('authed.json')).status).toBe(401)
    const ok = await web('authed.json', { headers: { authorization: basic(c.key) } })
    expect(ok.status).toBe(200)
    expect((await json(ok)).__ow_user).toBe('guest')
    // No credentials, no __ow_user.
    expect((await json(await web('echo.json'))).__ow_user).toBeUndefined()
  })

  it('gives raw actions the query and body unparsed, JSON as base64 (WebActionsApiTests "invoke raw action ensuring body and query arguments are set properly")', async () => {
    const text = '{\n  "a": "A"\n}'
    const body = await json(
      await web('raw.json?key1=value1&key2=value2', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: text,
      }),
    )
    expect(body.__ow_query).toBe('key1=value1&key2=value2')
    expect(body.__ow_body).toBe(Buffer.from(text).toString('base64'))
    expect(body.a).toBeUndefined()
    // "... empty strings when not specified in request".
    const empty = await json(await web('raw.json', { method: 'POST' }))
    expect(empty).toMatchObject({ __ow_query: '', __ow_body: '' })
  })

  it('passes a JSON body that is not an object as __ow_body, as is (WebActionsApiTests "ensuring JSON value body arguments are received as is")', async () => {
    for (const value of ['this is a string', [1, 'str str', false], true, 99]) {
      const body = await json(
        await web('echo.json', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(value),
        }),
      )
      expect(body.__ow_body).toEqual(value)
    }
  })

  it('passes a text body as a string and a binary one as base64 (WebActionsApiTests "inline body", "binary body is base64 encoded")', async () => {
    const text = await json(
      await web('echo.json', { method: 'POST', headers: { 'content-type': 'text/html' }, body: '1,2,3' }),
    )
    expect(text.__ow_body).toBe('1,2,3')
    const png = await json(
      await web('echo.json', {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: Buffer.from(PNG, 'base64'),
      }),
    )
    expect(png.__ow_body).toBe(PNG)
  })

  it('parses +json media types (WebActionsApiTests "support json (including +json subtypes)")', async () => {
    for (const type of ['application/cloudevents+json', 'application/json']) {
      const body = await json(
        await web('echo.json', {
          method: 'POST',
          headers: { 'content-type': type },
          body: '{"field1":"value1"}',
        }),
      )
      expect(body.field1, type).toBe('value1')
    }
  })

  it('keeps the request content type in __ow_headers (WskWebActionsTests "ensure __ow_headers contains the proper content-type")', async () => {
    const res = await web('echo.json', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"key":"value"}',
    })
    expect(res.headers.get('content-type')).toBe('application/json')
    expect(((await json(res)).__ow_headers as Record<string, string>)['content-type']).toBe(
      'application/json',
    )
    const bare = await json(await web('echo.json'))
    expect(bare.__ow_headers).not.toHaveProperty('content-type')
  })
})

describe('conformance: web action answers', () => {
  it('pretty-prints .json (WebActions resultAsJson)', async () => {
    const res = await web('echo.json?a=1')
    const text = await res.text()
    expect(text).toBe(JSON.stringify(JSON.parse(text), null, 2))
  })

  it('answers 204 for an empty .http result (WebActionsApiTests "handle http web action and provide defaults")', async () => {
    const res = await httpAnswer({})
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
    expect((await httpAnswer({ statusCode: 200 })).status).toBe(200)
  })

  it('takes string status codes (WebActionsApiTests "allowed string based status code")', async () => {
    expect((await httpAnswer({ statusCode: '444' })).status).toBe(444)
    const bad = await httpAnswer({ statusCode: 'xyz' })
    expect(bad.status).toBe(400)
    expect(owError(await bad.json())).toBe("Response is not valid 'message/http'.")
  })

  it('refuses a content type it does not know (WebActionsApiTests "reject http web action with invalid content-type header")', async () => {
    const res = await httpAnswer({
      headers: { 'content-type': 'xyzbar' },
      statusCode: 200,
      body: 'hello world',
    })
    expect(res.status).toBe(400)
    expect(owError(await res.json())).toBe('Response did not specify a known content-type.')
  })

  it('sends a JSON object body only with a JSON type (WebActionsApiTests "handle http web action for known/unknown \'+json\' response")', async () => {
    const hal = await httpAnswer({
      headers: { 'content-type': 'application/hal+json' },
      body: { field: 'value' },
    })
    expect(hal.headers.get('content-type')).toBe('application/hal+json')
    expect(await hal.json()).toEqual({ field: 'value' })
    const html = await httpAnswer({ headers: { 'content-type': 'text/html' }, body: { field: 'value' } })
    expect(html.status).toBe(400)
    expect(owError(await html.json())).toBe('Response type in header did not match generated content type.')
    // "... base64 encoded known '+json' response" is decoded.
    const b64 = Buffer.from('{"field":"value"}').toString('base64')
    const decoded = await httpAnswer({
      headers: { 'content-type': 'application/json-patch+json' },
      body: b64,
    })
    expect(await decoded.json()).toEqual({ field: 'value' })
    // "... incorrect application/json header and text response" is sent as is.
    const text = await httpAnswer({ headers: { 'content-type': 'application/json' }, body: 'hello world' })
    expect(await text.text()).toBe('hello world')
  })

  it('decodes a base64 body of a binary type (WskWebActionsTests "handle http web action with base64 encoded binary response")', async () => {
    const res = await httpAnswer({ headers: { 'content-type': 'image/png' }, body: PNG })
    expect(res.headers.get('content-type')).toBe('image/png')
    expect(Buffer.from(await res.arrayBuffer()).toString('base64')).toBe(PNG)
  })

  it('negotiates the content type (WskWebActionsTests "reject invocation of web action with invalid accept header")', async () => {
    const res = await httpAnswer({ body: 'Plain text' }, { headers: { accept: 'application/json' } })
    expect(res.status).toBe(406)
    expect(owError(await res.json())).toBe(
      'Resource representation is only available with these types:\ntext/html; charset=UTF-8',
    )
    expect((await httpAnswer({ body: 'Plain text' }, { headers: { accept: 'text/*' } })).status).toBe(200)
  })

  it('sends several values of one header (WebActionsApiTests "support multiple values for headers")', async () => {
    const res = await httpAnswer({ headers: { 'Set-Cookie': ['a=b', 'c=d; Path = /'] } })
    expect(res.headers.getSetCookie()).toEqual(['a=b', 'c=d; Path = /'])
  })

  it('answers OPTIONS with the default CORS headers (WskWebActionsTests "ensure that default CORS header is preserved")', async () => {
    for (const [path, method] of [
      ['echo.http', 'OPTIONS'],
      ['echo.json', 'GET'],
    ]) {
      const asked = await web(path!, {
        method,
        headers: { 'access-control-request-headers': 'x-custom-header' },
      })
      expect(asked.status).toBe(200)
      expect(asked.headers.get('access-control-allow-origin')).toBe('*')
      expect(asked.headers.get('access-control-allow-methods')).toBe(
        'OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH',
      )
      expect(asked.headers.get('access-control-allow-headers')).toBe('x-custom-header')
      const plain = await web(path!, { method })
      expect(plain.headers.get('access-control-allow-headers')).toBe(
        'Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent',
      )
      expect(plain.headers.get('set-cookie')).toBeNull()
    }
  })

  it('lets the action answer OPTIONS with web-custom-options (WskWebActionsTests "ensure that CORS header is preserved for custom options")', async () => {
    await c.action(
      'custom',
      `function main(p) { return { headers: { 'Access-Control-Allow-Origin': 'Origin set from Web Action', Location: 'openwhisk.org', 'Set-Cookie': 'cookie-cookie-cookie' } } }`,
      { annotations: { 'web-export': true, 'web-custom-options': true } },
    )
    const res = await web('custom.http', { method: 'OPTIONS' })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe('Origin set from Web Action')
    expect(res.headers.get('location')).toBe('openwhisk.org')
    expect(res.headers.get('set-cookie')).toBe('cookie-cookie-cookie')
  })

  it('answers HEAD without a body (WskWebActionsTests "create a web action making a HEAD request")', async () => {
    await c.action(
      'head',
      "function main(p) { return { statusCode: 200, headers: { 'Request-type': p.__ow_method }, body: 'not sent' } }",
      { annotations: { 'web-export': true } },
    )
    const res = await web('head.http', { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.headers.get('request-type')).toBe('head')
    expect(await res.text()).toBe('')
  })
})
