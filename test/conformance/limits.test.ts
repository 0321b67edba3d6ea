import { describe, expect, it } from 'vitest'
import { type Activation, annotation, conformanceAgent, owError, path } from './helpers.ts'

// Limits: the ranges and their messages, time, logs, payload, result and memory.
const c = conformanceAgent()

const NOOP = 'function main(p) { return p }'
// Allocates `mb` MiB in 1 MiB buffers, touching every page (after OpenWhisk's memoryWithGC.js).
const EAT = `function main(p) {
  const blocks = []
  for (let i = 0; i < p.mb; i++) { const b = Buffer.alloc(1024 * 1024); for (let j = 0; j < b.length; j += 4096) b[j] = 1; blocks.push(b) }
  return { msg: 'OK, buffer of size ' + p.mb + ' MB has been filled.' }
}`

describe('conformance: limits', () => {
  it('refuses limits out of range with their thresholds (ActionLimitsTests "reject creation of an action with these limits")', async () => {
    const cases: Array<[object, string]> = [
      [{ memory: 0 }, 'memory size 0 MB below allowed threshold of 128 MB'],
      [{ memory: 2049 }, 'memory size 2049 MB exceeds allowed threshold of 2048 MB'],
      [{ timeout: 99 }, 'duration 99 milliseconds below allowed threshold of 100 milliseconds'],
      [{ timeout: 300001 }, 'duration 300001 milliseconds exceeds allowed threshold of 300000 milliseconds'],
      [{ logs: 11 }, 'log size 11 MB exceeds allowed threshold of 10 MB'],
      [{ concurrency: 0 }, 'concurrency 0 below allowed threshold of 1'],
      [{ concurrency: 501 }, 'concurrency 501 exceeds allowed threshold of 500'],
    ]
    for (const [limits, message] of cases) {
      const r = await c.req('PUT', path('limited'), { exec: { kind: 'nodejs:default', code: NOOP }, limits })
      expect(r.status, message).toBe(400)
      expect(owError(r.body)).toContain(message)
    }
    expect((await c.req('GET', path('limited'))).status).toBe(404)
  })

  it('accepts limits in range and shows them (ActionLimitsTests "accept creation of an action with these limits")', async () => {
    const limits = { timeout: 100, memory: 128, logs: 0, concurrency: 1 }
    const r = await c.req('PUT', path('inRange'), { exec: { kind: 'nodejs:default', code: NOOP }, limits })
    expect(r).toMatchObject({ status: 200, body: { limits } })
  })

  it('runs several activations at once in one container when limits.concurrency allows (nodejs only)', async () => {
    const code = `async function main(p) {
      await new Promise((r) => setTimeout(r, 300))
      console.log('mine ' + p.n)
      return { n: p.n, id: process.env.__OW_ACTIVATION_ID, host: require('os').hostname() }
    }`
    const limits = { concurrency: 20 }
    const created = await c.req('PUT', `${path('together')}?overwrite=true`, {
      exec: { kind: 'nodejs:default', code },
      limits,
    })
    expect(created).toMatchObject({ status: 200, body: { limits: { concurrency: 20 } } })
    const blocking = (n: number) => c.req('POST', `${path('together')}?blocking=true`, { n })
    const first = (await blocking(0)).body as Activation
    const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => blocking(i + 1)))
    for (const [i, r] of runs.entries()) {
      const rec = r.body as Activation
      expect(r.status).toBe(200)
      expect(rec.response.result).toMatchObject({
        n: i + 1,
        id: rec.activationId,
        host: (first.response.result as { host: string }).host,
      })
      expect(rec.logs).toEqual([expect.stringMatching(new RegExp(`stdout: mine ${i + 1}$`))])
      expect(annotation(rec, 'limits')).toMatchObject({ concurrency: 20 })
    }
    const py = await c.req('PUT', path('py together'), {
      exec: { kind: 'python:3', code: 'def main(args):\n    return args\n' },
      limits: { concurrency: 2 },
    })
    expect(py.status).toBe(400)
    expect(owError(py.body)).toContain('concurrency 2 is not supported by kind python:3')
  })

  it('stops an action at its time limit (ActionLimitsTests "error with a proper warning if the action exceeds its time limits")', async () => {
    // 3 s, not less: the limit bounds /init too, and a cold start on a loaded machine can take a second.
    await c.action('sleepy', 'function main() { return new Promise(() => {}) }', {
      limits: { timeout: 3000 },
    })
    const rec = await c.activation('sleepy')
    expect(rec.response).toMatchObject({
      status: 'action developer error',
      result: { error: 'The action exceeded its time limits of 3000 milliseconds.' },
    })
  })

  it('truncates logs over the limit (ActionLimitsTests "succeed but truncate logs, if log size exceeds its limit")', async () => {
    await c.action('chatty', "function main() { console.log('x'.repeat(2048)); return { ok: 1 } }", {
      limits: { logs: 0 },
    })
    const rec = await c.activation('chatty')
    expect(rec.response.status).toBe('success')
    expect(rec.logs.at(-1)).toContain(
      'Logs were truncated because the total bytes size exceeds the limit of 0 bytes.',
    )
  })

  it('runs with a payload close to 1 MB (ActionLimitsTests "successfully invoke an action with a payload close to the limit")', async () => {
    await c.action('bigPayload', NOOP)
    const args = { p: 'a'.repeat(1024 * 1024 - 200) }
    const r = await c.req('POST', `${path('bigPayload')}?blocking=true&result=true`, args)
    expect(r.status).toBe(200)
    expect((r.body as { p: string }).p.length).toBe(args.p.length)
  })

  it('refuses a payload over 1 MB with OpenWhisk\'s message (ActionLimitsTests "reject invoke with payload that is too large")', async () => {
    await c.action('tooBigPayload', NOOP)
    const args = { p: 'a'.repeat(1024 * 1024) }
    const size = Buffer.byteLength(JSON.stringify(args))
    const r = await c.req('POST', `${path('tooBigPayload')}?blocking=true&result=true`, args)
    expect(r.status).toBe(413)
    expect(owError(r.body)).toBe(`Request larger than allowed: ${size} > 1048576 bytes.`)
  })

  it('makes a result over 1 MB an application error with the truncated response (ActionLimitsTests "succeed but truncate result, if result exceeds its limit")', async () => {
    await c.action('sizedResult', 'function main(p) { return { a: p.char.repeat(p.size) } }')
    const args = { size: 1024 * 1024 + 1, char: 'a' }
    const length = JSON.stringify({ a: 'a'.repeat(args.size) }).length
    const check = (response: { status: string; success: boolean; result: unknown }) => {
      expect(response).toMatchObject({ status: 'application error', success: false })
      const msg = (response.result as { error: string }).error
      expect(
        msg.startsWith(
          `The action produced a response that exceeded the allowed length: ${length} > 1048576 bytes.`,
        ),
      ).toBe(true)
      expect(msg.endsWith('a')).toBe(true)
    }
    const blocking = await c.req('POST', `${path('sizedResult')}?blocking=true`, args)
    expect(blocking.status).toBe(502)
    check((blocking.body as { response: never }).response)
    check((await c.activation('sizedResult', args)).response)
  })

  // ActionLimitsTests "be able to run a memory intensive actions": the limit is for the whole
  // container, so the action takes its limit less 56 MB (the runtime's own share), as there.
  it.each([128, 512])(
    'lets an action use nearly its %i MB (ActionLimitsTests "be able to run a memory intensive actions")',
    async (mb) => {
      await c.action(`eat${mb}`, EAT, { limits: { memory: mb } })
      const rec = await c.activation(`eat${mb}`, { mb: mb - 56 })
      expect(rec.response).toMatchObject({
        status: 'success',
        result: { msg: `OK, buffer of size ${mb - 56} MB has been filled.` },
      })
    },
  )

  it('stops an action that exceeds its memory (ActionLimitsTests "be aborted when exceeding its memory limits")', async () => {
    await c.action('eatTooMuch', EAT, { limits: { memory: 128 } })
    const rec = await c.activation('eatTooMuch', { mb: 256 })
    expect(rec.response).toMatchObject({
      status: 'action developer error',
      result: { error: 'The action exhausted its memory and was aborted.' },
    })
    expect(annotation(rec, 'limits')).toMatchObject({ memory: 128 })
  })
})
