import { describe, expect, it } from 'vitest'
import { zipBase64 } from '../runtimes/helpers.ts'
import { annotation, conformanceAgent, owError, path } from './helpers.ts'

// Actions: names, create/update/get, annotations, code forms, and the entity types fnagent answers
// for without implementing them.
const c = conformanceAgent()

const HELLO =
  "function main(p) { console.log('hello, ' + p.payload); return { payload: 'hello, ' + p.payload } }"

describe('conformance: actions', () => {
  it('accepts names with spaces (WskActionTests "invoke an action with a space in the name")', async () => {
    await c.action('hello Async', HELLO)
    const got = await c.req('GET', path('hello Async'))
    expect((got.body as { name: string }).name).toBe('hello Async')
    const rec = await c.activation('hello Async', { payload: 'this is a test' })
    expect(rec.response.status).toBe('success')
    expect(rec.logs.join(' ')).toContain('hello, this is a test')
  })

  it('refuses invalid names (WskRestBasicUsageTests "reject creating entities with invalid names")', async () => {
    const body = { exec: { kind: 'nodejs:default', code: HELLO } }
    expect((await c.req('PUT', '/api/v1/namespaces/_/actions/', body)).status).toBe(404)
    for (const name of [' ', 'hi+there', '$hola', 'dora?', '|dora|dora?']) {
      const r = await c.req('PUT', path(name), body)
      expect(r.status, name).toBe(400)
      expect(owError(r.body)).toBe('The name of the entity contains illegal characters.')
    }
  })

  it('reports a name over 256 characters with its length (ActionsApiTests "reject long entity names")', async () => {
    const long = 'a'.repeat(257)
    for (const p of [path(long), `${path('pkg')}%2F${long}`]) {
      const r = await c.req('GET', p)
      expect(r.status).toBe(400)
      expect(owError(r.body)).toBe('Name segement longer than allowed: 257 > 256.')
    }
    await c.action('b'.repeat(256), HELLO)
  })

  it('creates, updates, gets and lists an action in its shape (WskRestBasicTests "create, update, get and list an action")', async () => {
    const created = (await c.req('PUT', path('shape'), {
      exec: { kind: 'nodejs:default', code: HELLO },
      parameters: [{ key: 'a', value: 'A' }],
    })) as { status: number; body: Record<string, unknown> }
    expect(created.status).toBe(200)
    expect(created.body).toMatchObject({
      name: 'shape',
      namespace: 'guest',
      version: '0.0.1',
      publish: false,
    })
    const dup = await c.req('PUT', path('shape'), { exec: { kind: 'nodejs:default', code: HELLO } })
    expect(dup.status).toBe(409)
    expect(owError(dup.body)).toBe('resource already exists')
    const updated = await c.req('PUT', `${path('shape')}?overwrite=true`, {
      parameters: [{ key: 'b', value: 'B' }],
    })
    expect(updated.body).toMatchObject({ version: '0.0.2', parameters: [{ key: 'b', value: 'B' }] })
    // WskRestBasicTests "create an action, and get its individual fields".
    const got = (await c.req('GET', path('shape'))).body as Record<string, unknown>
    expect(got).toMatchObject({
      name: 'shape',
      namespace: 'guest',
      publish: false,
      version: '0.0.2',
      limits: { timeout: 60000, memory: 256, logs: 10, concurrency: 1 },
    })
    const list = (await c.ow.actions.list()) as Array<{ name: string }>
    expect(list.some((a) => a.name === 'shape')).toBe(true)
  })

  it('adds provide-api-key: false on create (WskActionTests "add new parameters and annotations while copying")', async () => {
    const a = (await c.action('annotated', HELLO, { annotations: { origAnnot1: 'v1' } })) as never
    expect(annotation(a, 'provide-api-key')).toBe(false)
    expect(annotation(a, 'exec')).toMatch(/^nodejs:/)
    expect(annotation(a, 'origAnnot1')).toBe('v1')
  })

  it('merges annotations on update (WskActionTests "not delete existing annotations when updating action with new annotation")', async () => {
    await c.req('PUT', path('merge'), {
      exec: { kind: 'nodejs:default', code: HELLO },
      annotations: [
        { key: 'key1', value: 'value1' },
        { key: 'key2', value: 'value2' },
      ],
    })
    await c.req('PUT', `${path('merge')}?overwrite=true`, {
      exec: { kind: 'nodejs:default', code: HELLO },
      annotations: [
        { key: 'key3', value: 'value3' },
        { key: 'key4', value: 'value4' },
      ],
    })
    const got = (await c.req('GET', path('merge'))).body as never
    for (const k of ['key1', 'key2', 'key3', 'key4']) expect(annotation(got, k)).toBe(`value${k.slice(3)}`)
  })

  it('removes only the given annotations with delAnnotations (WskRestBasicUsageTests "delete the given annotations using delAnnotations")', async () => {
    await c.req('PUT', path('del'), {
      exec: { kind: 'nodejs:default', code: HELLO },
      annotations: [
        { key: 'key1', value: 'value1' },
        { key: 'key2', value: 'value2' },
      ],
    })
    await c.req('PUT', `${path('del')}?overwrite=true`, {
      exec: { kind: 'nodejs:default', code: HELLO },
      delAnnotations: ['key1'],
    })
    const got = (await c.req('GET', path('del'))).body as never
    expect(annotation(got, 'key1')).toBeUndefined()
    expect(annotation(got, 'key2')).toBe('value2')
  })

  it('takes a zip as wsk sends it, base64 without the binary flag (WskRestBasicTests "dockerskeleton with native zip", for Node)', async () => {
    const code = await zipBase64({
      'package.json': JSON.stringify({ main: 'lib.js' }),
      'lib.js': "exports.main = (p) => ({ msg: 'hello zip ' + p.who })",
    })
    const created = (await c.req('PUT', path('zipped'), { exec: { kind: 'nodejs:default', code } })) as {
      body: { exec: { binary: boolean } }
    }
    expect(created.body.exec.binary).toBe(true)
    const got = (await c.req('GET', path('zipped'))).body as { exec: { binary: boolean; code: string } }
    expect(got.exec).toMatchObject({ binary: true, code })
    const rec = await c.activation('zipped', { who: 'wsk' })
    expect(rec.response.result).toEqual({ msg: 'hello zip wsk' })
  })

  it('accepts an empty file (WskActionTests "create an action with an empty file")', async () => {
    const r = await c.req('PUT', path('empty'), { exec: { kind: 'nodejs:default', code: '' } })
    expect(r.status).toBe(200)
  })

  it('answers 404 for a missing action on get, delete and invoke (WskRestBasicTests "reject ... of action that does not exist")', async () => {
    for (const method of ['GET', 'DELETE', 'POST']) {
      const r = await c.req(method, path('nothere'), method === 'POST' ? {} : undefined)
      expect(r.status, method).toBe(404)
      expect(owError(r.body)).toBe('The requested resource does not exist.')
    }
  })

  it('describes its runtimes at GET / (the controller info the wsk CLI and tooling read)', async () => {
    const r = await c.req('GET', '/', undefined, null)
    expect(r.status).toBe(200)
    const info = r.body as {
      runtimes: Record<string, Array<{ kind: string; default: boolean }>>
      limits: object
    }
    expect(info.runtimes.nodejs).toContainEqual(expect.objectContaining({ kind: 'nodejs:24', default: true }))
    expect(info.runtimes.python).toContainEqual(expect.objectContaining({ kind: 'python:3' }))
    expect(info.limits).toMatchObject({ min_action_duration: 100, max_action_duration: 300000 })
  })
})

describe('conformance: packages, triggers and rules that do not exist, and sequences', () => {
  it('lists none and does not find one (WskRestBasicTests "reject get/delete of package/trigger/rule that does not exist")', async () => {
    for (const coll of ['packages', 'triggers', 'rules']) {
      const list = await c.req('GET', `/api/v1/namespaces/_/${coll}`)
      expect(list).toMatchObject({ status: 200, body: [] })
      for (const method of coll === 'packages' ? ['GET', 'DELETE'] : ['GET', 'DELETE', 'POST']) {
        const r = await c.req(
          method,
          `/api/v1/namespaces/_/${coll}/nothere`,
          method === 'POST' ? {} : undefined,
        )
        expect(r.status, `${method} ${coll}`).toBe(404)
        expect(owError(r.body)).toBe('The requested resource does not exist.')
      }
    }
  })

  it('reports an action reached through another collection (WskRestBasicUsageTests "report conformance error accessing action as package")', async () => {
    await c.action('notapackage', HELLO)
    for (const coll of ['packages', 'triggers', 'rules']) {
      const r = await c.req('GET', `/api/v1/namespaces/_/${coll}/notapackage`)
      expect(r.status, coll).toBe(409)
      expect(owError(r.body)).toBe('Resource by this name exists but is not in this collection.')
    }
    // WskRestBasicTests "reject deleting entity in wrong collection": the action stays.
    expect((await c.req('DELETE', '/api/v1/namespaces/_/triggers/notapackage')).status).toBe(409)
    expect((await c.req('GET', path('notapackage'))).status).toBe(200)
  })

  it('refuses sequences as not supported yet (documented in docs/api.md)', async () => {
    const seq = await c.req('PUT', path('seq'), { exec: { kind: 'sequence', components: ['/guest/a'] } })
    expect(seq.status).toBe(400)
    expect(owError(seq.body)).toBe('Sequences are not supported by fnagent yet.')
  })
})
