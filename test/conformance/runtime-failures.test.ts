import { describe, expect, it } from 'vitest'
import { annotation, conformanceAgent } from './helpers.ts'

// What an action's own faults give: OpenWhisk's status (action developer error, not whisk internal
// error) and its exact message. The test actions are written afresh after OpenWhisk's tests/dat/actions.
const c = conformanceAgent()

const dev = 'action developer error'

describe('conformance: runtime failures', () => {
  it('an action that exits during init (WskRestBasicUsageTests "invoke an action that exits during initialization")', async () => {
    await c.action('abort init', 'process.exit(1)\nfunction main() { return {} }')
    const rec = await c.activation('abort init')
    expect(rec.response).toMatchObject({
      status: dev,
      statusCode: 2,
      success: false,
      result: { error: 'The action did not initialize and exited unexpectedly.' },
    })
  })

  it('an action that hangs during init past its limit (WskRestBasicUsageTests "invoke an action that hangs during initialization")', async () => {
    await c.action('hang init', 'while (true) {}\nfunction main() { return {} }', {
      limits: { timeout: 3000 },
    })
    const rec = await c.activation('hang init')
    expect(rec.response).toMatchObject({
      status: dev,
      result: { error: 'The action exceeded its time limits of 3000 milliseconds during initialization.' },
    })
    expect(annotation(rec, 'timeout')).toBe(true)
  })

  it('an action that exits during run (WskRestBasicUsageTests "invoke an action that exits during run")', async () => {
    await c.action('abort run', 'function main() { process.exit(1) }')
    const rec = await c.activation('abort run')
    expect(rec.response).toMatchObject({
      status: dev,
      result: { error: 'The action did not produce a valid response and exited unexpectedly.' },
    })
  })

  it('an action that throws (WskActionTests "invoke an action that throws an uncaught exception and returns correct status code")', async () => {
    await c.action('throwExceptionAction', "function main() { throw 'Extraordinary exception' }")
    const rec = await c.activation('throwExceptionAction')
    expect(rec.response).toMatchObject({
      status: dev,
      result: { error: 'An error has occurred: Extraordinary exception' },
    })
  })

  it('an empty file (WskActionTests "fail to invoke an action with an empty file")', async () => {
    const r = await c.req('PUT', '/api/v1/namespaces/_/actions/empty', {
      exec: { kind: 'nodejs:default', code: '' },
    })
    expect(r.status).toBe(200)
    const rec = await c.activation('empty')
    expect(rec.response).toMatchObject({ status: dev, result: { error: 'Missing main/no code to execute.' } })
  })

  it('malformed code (WskRestBasicTests "create and invoke action with malformed js resulting in activation error")', async () => {
    await c.action('malformed', 'function main() { return x.y }')
    const rec = await c.activation('malformed')
    expect(rec.response.status).toBe(dev)
    expect(JSON.stringify(rec.response.result)).toContain('ReferenceError')
  })

  it('a rejected promise is an application error with its value (WskRestBasicTests "resulting in an failed promise")', async () => {
    await c.action(
      'failed promise',
      "function main() { return Promise.reject({ msg: 'failed activation on purpose' }) }",
    )
    const r = await c.req(
      'POST',
      '/api/v1/namespaces/_/actions/failed%20promise?blocking=true&result=true',
      {},
    )
    expect(r.status).toBe(502)
    expect(r.body).toEqual({ error: { msg: 'failed activation on purpose' } })
  })

  it("a result that is not a dictionary is a developer error with the runtime's message (ActivationResponseTests)", async () => {
    await c.action('number', 'function main() { return 42 }')
    const rec = await c.activation('number')
    expect(rec.response).toMatchObject({
      status: dev,
      result: { error: 'The action did not return a dictionary.' },
    })
  })

  it('a timed-out activation\'s container is not reused (WskRestBasicUsageTests "invoke an action twice, where the first times out")', async () => {
    const code = `function main(args) {
      const timeleft = Number(process.env.__OW_DEADLINE) - Date.now()
      return new Promise((resolve) => setTimeout(() => { if (!args.forceHang) resolve({ timedout: true }) }, timeleft - 500))
    }`
    await c.action('timeout', code, { limits: { timeout: 3000 } })
    const hung = await c.activation('timeout', { forceHang: true })
    expect(hung.response).toMatchObject({
      status: dev,
      result: { error: 'The action exceeded its time limits of 3000 milliseconds.' },
    })
    const good = await c.activation('timeout', { forceHang: false })
    expect(good.response).toMatchObject({ status: 'success', result: { timedout: true } })
    // It ran in a fresh container: its record carries the cold start's init time.
    expect(annotation(good, 'initTime')).toEqual(expect.any(Number))
  })

  it("a Python action that raises is an application error, as in OpenWhisk's Python runtime", async () => {
    await c.action('py raise', "def main(args):\n    raise ValueError('nope')\n", { kind: 'python:3' })
    const rec = await c.activation('py raise')
    expect(rec.response).toMatchObject({ status: 'application error', result: { error: 'nope' } })
  })
})
