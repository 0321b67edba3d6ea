import { describe, expect, it } from 'vitest'
import { annotation, conformanceAgent, owError, path } from './helpers.ts'

// Activation records: their shape, and the ids the API takes.
const c = conformanceAgent()

const ACTIVATIONS = '/api/v1/namespaces/_/activations'

describe('conformance: activations', () => {
  it('keeps every key in the record (WskRestBasicUsageTests "ensure keys are not omitted from activation record")', async () => {
    await c.action('argCheck', 'function main() { return {} }')
    const rec = await c.activation('argCheck')
    expect(rec.start).toBeGreaterThan(0)
    expect(rec.end).toBeGreaterThanOrEqual(rec.start)
    expect(rec.duration).toBe(rec.end - rec.start)
    expect(rec.response).toEqual({ status: 'success', statusCode: 0, success: true, result: {}, size: 2 })
    expect(rec.logs).toEqual([])
    expect(rec).toMatchObject({ namespace: 'guest', name: 'argCheck', version: '0.0.1', publish: false })
    expect(rec.subject).toEqual(expect.any(String))
    expect(rec.activationId).toMatch(/^[0-9a-f]{32}$/)
  })

  it('writes the path and the limits to the annotations (WskRestBasicUsageTests "write the action-path and the limits to the annotations")', async () => {
    await c.action('annotations', 'function main() { return {} }', {
      limits: { memory: 512, logs: 1, timeout: 60000 },
    })
    const rec = await c.activation('annotations')
    expect(annotation(rec, 'path')).toBe('guest/annotations')
    expect(annotation(rec, 'limits')).toEqual({ timeout: 60000, memory: 512, logs: 1, concurrency: 1 })
    expect(annotation(rec, 'kind')).toBe('nodejs:24')
    expect(annotation(rec, 'waitTime')).toEqual(expect.any(Number))
    expect(annotation(rec, 'initTime')).toEqual(expect.any(Number))
  })

  it('gives the blocking answer in the shape of the stored record (Actions.activate toExtendedJson)', async () => {
    await c.action('shape', 'function main() { return { ok: true } }')
    const r = await c.req('POST', `${path('shape')}?blocking=true`, {})
    const stored = await c.req('GET', `${ACTIVATIONS}/${(r.body as { activationId: string }).activationId}`)
    expect(stored.status).toBe(200)
    expect(r.body).toEqual(stored.body)
  })

  it('refuses malformed ids with 400 (ActivationsApiTests "reject get requests with invalid activation ids")', async () => {
    const id = 'a'.repeat(32)
    const tooShort = id.slice(0, 31)
    const tooLong = `${id}xxx`
    for (const [bad, message] of [
      [tooShort, 'Activation id length is 31 but must be 32.'],
      [tooLong, 'Activation id length is 35 but must be 32.'],
      [`${tooShort}z`, 'The activation id is not valid.'],
    ] as const) {
      for (const suffix of ['', '/result', '/logs']) {
        const r = await c.req('GET', `${ACTIVATIONS}/${bad}${suffix}`)
        expect(r.status, bad + suffix).toBe(400)
        expect(owError(r.body)).toBe(message)
      }
    }
  })

  it('answers 404 for a missing activation, its logs and result (WskRestBasicTests "reject get/logs/result of activation that does not exist")', async () => {
    for (const suffix of ['', '/result', '/logs']) {
      const r = await c.req('GET', `${ACTIVATIONS}/${'0'.repeat(32)}${suffix}`)
      expect(r.status).toBe(404)
      expect(owError(r.body)).toBe('The requested resource does not exist.')
    }
  })

  it('lists with the name filter and validates its options (ActivationsApiTests)', async () => {
    const listed = (await c.ow.activations.list({ name: 'argCheck' })) as Array<{
      name: string
      response?: unknown
    }>
    expect(listed.length).toBeGreaterThan(0)
    expect(listed.every((a) => a.name === 'argCheck' && a.response === undefined)).toBe(true)
    const badLimit = await c.req('GET', `${ACTIVATIONS}?limit=201`)
    expect(badLimit.status).toBe(400)
    expect(owError(badLimit.body)).toBe("The value '201' is not in the range of 0 to 200 for activations.")
    const both = await c.req('GET', `${ACTIVATIONS}?docs=true&count=true`)
    expect(owError(both.body)).toBe("The parameter 'docs' is not permitted with 'count'.")
  })

  it('answers the result API with result, success and status (WskActivationTests "fetch result using activation result API")', async () => {
    await c.action('hello', "function main(p) { return { payload: 'hello, ' + p.name + '!' } }")
    const rec = await c.activation('hello')
    const r = await c.req('GET', `${ACTIVATIONS}/${rec.activationId}/result`)
    const { size: _size, ...withoutSize } = r.body as { size?: number }
    expect(withoutSize).toEqual({
      result: { payload: 'hello, undefined!' },
      success: true,
      status: 'success',
    })
  })

  it('answers the logs API with timestamped stdout and stderr lines (WskActivationLogsTests "fetch logs using activation logs API")', async () => {
    await c.action(
      'logFetch',
      "function main() { console.log('this is stdout'); console.error('this is stderr'); return {} }",
    )
    const rec = await c.activation('logFetch')
    const { logs } = (await c.req('GET', `${ACTIVATIONS}/${rec.activationId}/logs`)).body as {
      logs: string[]
    }
    const text = logs.join('\n')
    expect(text).toMatch(/\d+-\d+-\d+T\d+:\d+:\d+.\d+Z\s+stdout: this is stdout/)
    expect(text).toMatch(/\d+-\d+-\d+T\d+:\d+:\d+.\d+Z\s+stderr: this is stderr/)
  })

  it('polls a package action\'s activations since a time (WskConsoleTests "show an activation log message for hello world")', async () => {
    // As in OpenWhisk, an action's package exists before the action.
    expect((await c.req('PUT', '/api/v1/namespaces/_/packages/samples', {})).status).toBe(200)
    await c.action('samples/helloWorld', "function main(p) { console.log('hello ' + p.payload); return {} }")
    const rec = await c.activation('samples/helloWorld', { payload: 'from the console!' })
    const since = rec.start - 500
    const polled = (await c.ow.activations.list({
      name: 'samples/helloWorld',
      since,
      docs: true,
    })) as unknown as Array<{
      logs: string[]
    }>
    expect(polled).toHaveLength(1)
    expect(polled[0]!.logs.join(' ')).toContain('from the console!')
  })
})
