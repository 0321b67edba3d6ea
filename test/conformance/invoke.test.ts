import { describe, expect, it } from 'vitest'
import { conformanceAgent, owError, path } from './helpers.ts'

// Invoke options: blocking, result, timeout, the activation id header, arrays, final parameters.
const c = conformanceAgent()

const ECHO = 'function main(p) { return p }'
const SLEEP = 'function main(p) { return new Promise((r) => setTimeout(() => r({ slept: p.ms }), p.ms)) }'

describe('conformance: invoke', () => {
  it('answers only the result with blocking and result (WskRestBasicUsageTests "invoke an action successfully with options --blocking and --result")', async () => {
    await c.action('invokeResult', ECHO)
    const args = { hello: 'Robert' }
    expect(
      await c.ow.actions.invoke({ name: 'invokeResult', params: args, blocking: true, result: true }),
    ).toEqual(args)
    // WskRestBasicTests "create, and invoke an action that returns an empty JSON object".
    await c.action('emptyResult', 'function main() { return {} }')
    expect(await c.ow.actions.invoke({ name: 'emptyResult', blocking: true, result: true })).toEqual({})
  })

  it('names the activation in x-openwhisk-activation-id, blocking or not (Actions.activate)', async () => {
    await c.action('echo', ECHO)
    const async = await c.req('POST', path('echo'), {})
    expect(async.status).toBe(202)
    const { activationId } = async.body as { activationId: string }
    expect(async.headers.get('x-openwhisk-activation-id')).toBe(activationId)
    const blocking = await c.req('POST', `${path('echo')}?blocking=true`, {})
    expect(blocking.status).toBe(200)
    expect(blocking.headers.get('x-openwhisk-activation-id')).toBe(
      (blocking.body as { activationId: string }).activationId,
    )
  })

  it('honours a blocking timeout: 202 with the id past it (WskRestBasicTests "invoke an action that times out to ensure the proper response is received")', async () => {
    await c.action('sleepAction', SLEEP)
    const r = await c.req('POST', `${path('sleepAction')}?blocking=true&result=true&timeout=500`, {
      ms: 4000,
    })
    expect(r.status).toBe(202)
    const { activationId } = r.body as { activationId: string }
    expect(activationId).toMatch(/^[0-9a-f]{32}$/)
    expect(r.headers.get('x-openwhisk-activation-id')).toBe(activationId)
    // Within the timeout the answer is the result.
    const quick = await c.req('POST', `${path('sleepAction')}?blocking=true&result=true&timeout=30000`, {
      ms: 10,
    })
    expect(quick).toMatchObject({ status: 200, body: { slept: 10 } })
  })

  it('validates the blocking timeout (Actions.stringToFiniteDuration)', async () => {
    for (const t of ['0', '-1', 'abc', '60001']) {
      const r = await c.req('POST', `${path('echo')}?blocking=true&timeout=${t}`, {})
      expect(r.status, t).toBe(400)
      expect(owError(r.body)).toBe('Timeout must be number of milliseconds up to 60000.')
    }
  })

  it('keeps an array result (WskActionTests "invoke an action with a array result")', async () => {
    await c.action('helloArray', "function main() { return [{ key1: 'value1' }, { key2: 'value2' }] }")
    const expected = [{ key1: 'value1' }, { key2: 'value2' }]
    const blocking = await c.req('POST', `${path('helloArray')}?blocking=true`, {})
    expect(blocking).toMatchObject({ status: 200, body: expected })
    const result = await c.req('POST', `${path('helloArray')}?blocking=true&result=true`, {})
    expect(result).toMatchObject({ status: 200, body: expected })
    const rec = await c.activation('helloArray')
    expect(rec.response).toMatchObject({ status: 'success', result: expected })
  })

  it('refuses to redefine final parameters (Actions.activate immutableParameters)', async () => {
    await c.action('final', ECHO, { parameters: { fixed: 'yes' }, annotations: { final: true } })
    const r = await c.req('POST', `${path('final')}?blocking=true&result=true`, { fixed: 'no' })
    expect(r.status).toBe(400)
    expect(owError(r.body)).toBe(
      'Request defines parameters that are not allowed (e.g., reserved properties).',
    )
    const ok = await c.req('POST', `${path('final')}?blocking=true&result=true`, { other: 1 })
    expect(ok).toMatchObject({ status: 200, body: { fixed: 'yes', other: 1 } })
    // Without the annotation an invocation may override a parameter.
    await c.action('notFinal', ECHO, { parameters: { fixed: 'yes' } })
    const over = await c.req('POST', `${path('notFinal')}?blocking=true&result=true`, { fixed: 'no' })
    expect(over).toMatchObject({ status: 200, body: { fixed: 'no' } })
  })

  it('answers 502 with the error for an application error (WskRestBasicTests "resulting in an application error response")', async () => {
    await c.action('applicationError', 'function main(p) { return { error: p } }')
    const input = { a: 'A' }
    const r = await c.req('POST', `${path('applicationError')}?blocking=true&result=true`, input)
    expect(r).toMatchObject({ status: 502, body: { error: input } })
    const full = await c.req('POST', `${path('applicationError')}?blocking=true`, input)
    expect(full.status).toBe(502)
    expect(full.body).toMatchObject({ response: { status: 'application error', result: { error: input } } })
  })

  it('keeps UTF-8 and unescaped &, <, > (WskActionTests "support UTF-8", WskRestBasicUsageTests "not encoding &, <, >")', async () => {
    await c.action('utf8Test', "function main(p) { console.log('hello, ' + p.payload); return p }")
    const payload = '«ταБЬℓσö»: 1<2 & 4+1>³, now 20%€§$ off!'
    const rec = await c.activation('utf8Test', { payload })
    expect(rec.response.result).toEqual({ payload })
    expect(rec.logs.join(' ')).toContain(`hello, ${payload}`)
  })

  it('passes parameters bound at creation (WskActionTests "pass parameters bound on creation-time to the action")', async () => {
    await c.action('printParams', ECHO, { parameters: { param1: 'test1', param2: 'test2' } })
    const r = await c.ow.actions.invoke({
      name: 'printParams',
      params: { payload: 'x' },
      blocking: true,
      result: true,
    })
    expect(r).toEqual({ param1: 'test1', param2: 'test2', payload: 'x' })
  })
})
