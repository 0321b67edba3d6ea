import { describe, expect, it } from 'vitest'
import { owFetch } from '../api/helpers.ts'
import { type Activation, annotation, conformanceAgent, owError, path } from './helpers.ts'

// Sequences and conductor actions through the REST API, against one real agent with real
// containers. Messages are OpenWhisk's (http/ErrorResponse.scala).
const c = conformanceAgent()

const SPLIT = "function main(p) { return { words: String(p.text ?? '').split(' ') } }"
const COUNT_PY =
  "def main(args):\n    return {'count': len(args.get('words', [])), 'words': args.get('words')}\n"
const FAIL_ON =
  "function main(p) { if (p.count > 1) return { error: 'too many words: ' + p.count }; return { ok: p.count } }"
const ECHO = 'function main(p) { return p }'

const seqBody = (...components: string[]) => ({ exec: { kind: 'sequence', components } })

async function record(id: string): Promise<Activation> {
  const r = await c.req('GET', `/api/v1/namespaces/_/activations/${id}`)
  expect(r.status, `activation ${id}`).toBe(200)
  return r.body as Activation
}

describe('conformance: sequences', () => {
  it('creates a sequence as wsk action create --sequence sends it and shows it back', async () => {
    await c.action('split', SPLIT)
    await c.action('count', COUNT_PY, { kind: 'python:3' })
    const put = await c.req('PUT', path('words'), seqBody('/_/split', '/guest/count'))
    expect(put.status, JSON.stringify(put.body)).toBe(200)
    const got = await c.req('GET', path('words'))
    expect((got.body as { exec: unknown }).exec).toEqual({
      kind: 'sequence',
      components: ['/guest/split', '/guest/count'],
    })
    expect(annotation(got.body as Activation, 'exec')).toBe('sequence')
    const info = await c.req('GET', '/', undefined, null)
    expect((info.body as { limits: object }).limits).toMatchObject({ sequence_length: 50 })
  })

  it('passes each output on as the next input and records the component ids (WskSequenceTests "invoke a sequence with normal payload")', async () => {
    const rec = await c.activation('words', { text: 'a b c' })
    expect(rec.response).toMatchObject({ status: 'success', success: true })
    expect(rec.response.result).toEqual({ count: 3, words: ['a', 'b', 'c'] })
    expect(rec.logs).toHaveLength(2)
    expect(annotation(rec, 'topmost')).toBe(true)
    expect(annotation(rec, 'kind')).toBe('sequence')
    expect(annotation(rec, 'path')).toBe('guest/words')
    expect(typeof annotation(rec, 'waitTime')).toBe('number')
    expect(annotation(rec, 'limits')).toMatchObject({ memory: 256 })
    const [first, second] = await Promise.all(rec.logs.map(record))
    expect(first!.name).toBe('split')
    expect(second!.name).toBe('count')
    for (const component of [first!, second!]) {
      expect(component.cause).toBe(rec.activationId)
      expect(annotation(component, 'causedBy')).toBe('sequence')
    }
    expect(rec.duration).toBe(first!.duration + second!.duration)
    // The blocking form answers the composed result, as for any action.
    const blocking = await c.req('POST', `${path('words')}?blocking=true&result=true`, { text: 'x y' })
    expect(blocking).toMatchObject({ status: 200, body: { count: 2 } })
  })

  it('stops at a component that returns an error, with its error (WskSequenceTests "payload with error field")', async () => {
    await c.action('fail on many', FAIL_ON)
    await c.action('mark', 'function main(p) { return { ...p, marked: true } }')
    expect(
      (await c.req('PUT', path('strict'), seqBody('/_/words', '/_/fail on many', '/_/mark'))).status,
    ).toBe(200)
    const ok = await c.activation('strict', { text: 'one' })
    expect(ok.response).toMatchObject({ status: 'success', result: { ok: 1, marked: true } })
    expect(ok.logs).toHaveLength(3)
    const rec = await c.activation('strict', { text: 'two words' })
    expect(rec.response).toMatchObject({ status: 'application error', success: false })
    expect(rec.response.result).toEqual({ error: 'too many words: 2' })
    // The nested sequence and the failing component ran; the third never did.
    expect(rec.logs).toHaveLength(2)
    const nested = await record(rec.logs[0]!)
    expect(nested.name).toBe('words')
    expect(annotation(nested, 'topmost')).toBe(false)
    expect(annotation(nested, 'causedBy')).toBe('sequence')
    expect(nested.cause).toBe(rec.activationId)
    const blocking = await c.req('POST', `${path('strict')}?blocking=true&result=true`, { text: 'a b' })
    expect(blocking).toMatchObject({ status: 502, body: { error: 'too many words: 2' } })
  })

  it('refuses a sequence naming itself, directly or through another (SequenceApiTests "reject ... cycle")', async () => {
    await c.action('leaf', ECHO)
    const self = await c.req('PUT', path('self'), seqBody('/_/leaf', '/_/self'))
    expect(self.status).toBe(400)
    expect(owError(self.body)).toBe('Sequence may not refer to itself.')
    expect((await c.req('PUT', path('outer'), seqBody('/_/leaf'))).status).toBe(200)
    const again = await c.req('PUT', `${path('outer')}?overwrite=true`, seqBody('/_/leaf', '/_/outer'))
    expect(again.status).toBe(400)
    expect(owError(again.body)).toBe('Sequence may not refer to itself.')
    expect((await c.req('PUT', path('inner'), seqBody('/_/outer'))).status).toBe(200)
    const cycle = await c.req('PUT', `${path('outer')}?overwrite=true`, seqBody('/_/inner'))
    expect(cycle.status).toBe(400)
    expect(owError(cycle.body)).toBe('Sequence may not refer to itself.')
    // An action turned into a sequence through itself is a cycle too.
    const turned = await c.req('PUT', `${path('leaf')}?overwrite=true`, seqBody('/_/inner'))
    expect(owError(turned.body)).toBe('Sequence may not refer to itself.')
  })

  it("refuses a missing component, no component and too many, with OpenWhisk's messages", async () => {
    const missing = await c.req('PUT', path('gap'), seqBody('/_/leaf', '/_/not there'))
    expect(missing.status).toBe(400)
    expect(owError(missing.body)).toBe('Sequence component does not exist.')
    const foreign = await c.req('PUT', path('gap'), seqBody('/someone/leaf'))
    expect(owError(foreign.body)).toBe('Sequence component does not exist.')
    const none = await c.req('PUT', path('gap'), seqBody())
    expect(owError(none.body)).toBe('No component specified for the sequence.')
    const long = await c.req('PUT', path('gap'), seqBody(...Array(51).fill('/_/leaf')))
    expect(owError(long.body)).toBe('Too many actions in the sequence.')
    // 50 is allowed; nesting it once more is not (atomic actions are counted inlined).
    expect((await c.req('PUT', path('fifty'), seqBody(...Array(50).fill('/_/leaf')))).status).toBe(200)
    const nested = await c.req('PUT', path('gap'), seqBody('/_/fifty', '/_/leaf'))
    expect(owError(nested.body)).toBe('Too many actions in the sequence.')
  })

  it("runs a sequence in its own namespace: a key of another namespace, components by that namespace's names", async () => {
    const made = await c.api.agent.cli(['auth', 'create', '--namespace', 'team-seq'])
    expect(made.code, made.stderr).toBe(0)
    const key = made.stdout.trim()
    const req = (method: string, p: string, body?: unknown) => owFetch(c.api.apihost, key, method, p, body)
    // Same names as the guest namespace's, other code: the sequence must run team-seq's.
    expect((await req('PUT', path('split'), { exec: { kind: 'nodejs:default', code: ECHO } })).status).toBe(
      200,
    )
    expect((await req('PUT', path('words'), seqBody('/team-seq/split', '/_/split'))).status).toBe(200)
    const r = await req('POST', `${path('words')}?blocking=true&result=true`, { text: 'a b' })
    expect(r).toMatchObject({ status: 200, body: { text: 'a b' } })
    const foreign = await req('PUT', path('other'), seqBody('/guest/split'))
    expect(owError(foreign.body)).toBe('Sequence component does not exist.')
  })

  it('answers a component deleted after the sequence was made as OpenWhisk does', async () => {
    await c.action('gone', ECHO)
    expect((await c.req('PUT', path('dangling'), seqBody('/_/gone'))).status).toBe(200)
    expect((await c.req('DELETE', path('gone'))).status).toBe(200)
    const rec = await c.activation('dangling', {})
    expect(rec.response).toMatchObject({
      status: 'application error',
      result: { error: 'Sequence component does not exist.' },
    })
    expect(rec.logs).toEqual([])
  })
})

// tests/dat/actions/conductor.js's protocol: returns { action, state, params } from its input.
const CONDUCTOR = `function main(args) {
  if (args.error) return args
  const { action, state, params } = args
  delete args.action; delete args.state; delete args.params
  return { action, state, params: Object.assign(args, params) }
}`

// A loop: the conductor alternates between two actions three times, then returns.
const LOOP = `function main(p) {
  const round = p.$round || 0
  const value = p.value
  if (round === 6) return { params: { value, rounds: round / 2 } }
  return { action: round % 2 === 0 ? 'double' : '/_/increment', params: { value }, state: { $round: round + 1 } }
}`

describe('conformance: conductor actions', () => {
  it('loops three times through two actions (WskConductorTests "invoke a conductor action with a continuation")', async () => {
    await c.action('double', 'function main(p) { return { value: p.value * 2 } }')
    await c.action('increment', "def main(args):\n    return {'value': args['value'] + 1}\n", {
      kind: 'python:3',
    })
    await c.action('loop', LOOP, { annotations: { conductor: true } })
    const rec = await c.activation('loop', { value: 1 })
    // ((1*2+1)*2+1)*2+1 = 15
    expect(rec.response).toMatchObject({ status: 'success', result: { value: 15, rounds: 3 } })
    // conductor, (component, conductor) x 6
    expect(rec.logs).toHaveLength(13)
    expect(annotation(rec, 'conductor')).toBe(true)
    expect(annotation(rec, 'kind')).toBe('sequence')
    expect(annotation(rec, 'topmost')).toBe(true)
    const names = (await Promise.all(rec.logs.map(record))).map((r) => r.name)
    expect(names.filter((n) => n === 'loop')).toHaveLength(7)
    expect(names.filter((n) => n === 'double')).toHaveLength(3)
    expect(names.filter((n) => n === 'increment')).toHaveLength(3)
    const blocking = await c.req('POST', `${path('loop')}?blocking=true&result=true`, { value: 0 })
    expect(blocking).toMatchObject({ status: 200, body: { value: 7, rounds: 3 } })
  })

  it('ends on a continuation without action, and on an invalid or missing one (WskConductorTests)', async () => {
    await c.action('conductor', CONDUCTOR, { annotations: { conductor: true } })
    const plain = await c.activation('conductor', { params: { payload: 'x' }, result: 'y' })
    expect(plain.response).toMatchObject({ status: 'success', result: { payload: 'x', result: 'y' } })
    expect(plain.logs).toHaveLength(1)
    const invalid = await c.activation('conductor', { payload: 'x', action: 'invalid#action' })
    expect(invalid.response.status).toBe('application error')
    expect(invalid.response.result).toEqual({
      error: 'Failed to parse action name from json value "invalid#action" during composition.',
    })
    expect(invalid.logs).toHaveLength(2)
    const missing = await c.activation('conductor', { payload: 'x', action: 'missingAction' })
    expect(missing.response.result).toEqual({
      error: "Failed to resolve action with name 'guest/missingAction' during composition.",
    })
    const chained = await c.activation('conductor', { value: 3, action: 'double' })
    expect(chained.response).toMatchObject({ status: 'success', result: { value: 6 } })
    expect(chained.logs).toHaveLength(3)
  })
})
