import Dockerode from 'dockerode'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ensureRuntimes, imageFor } from '../../runtimes/build/index.ts'
import { pinnedRuntime } from '../invoker/helpers.ts'
import { type RuntimeContainer, SENTINEL, startRuntime, zipBase64 } from './helpers.ts'

// What only one runtime does: JavaScript's sloppy mode and Promises, Python's named entry points.
const docker = new Dockerode()
const started: RuntimeContainer[] = []

beforeAll(async () => {
  await ensureRuntimes(docker)
}, 900_000)

afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.remove()))
})

afterAll(async () => {
  await Promise.all(started.splice(0).map((c) => c.remove()))
})

async function initialized(
  kind: string,
  value: Record<string, unknown>,
  image = imageFor(kind),
): Promise<RuntimeContainer> {
  const c = await startRuntime(docker, image)
  started.push(c)
  const init = await c.post('/init', { value: { name: 'action', main: 'main', binary: false, ...value } })
  expect(init).toMatchObject({ status: 200 })
  return c
}

const run = (c: RuntimeContainer, value: unknown = {}) =>
  c.post('/run', { value, activation_id: 'a1', namespace: 'guest', action_name: 'x', deadline: '0' })

describe('nodejs:24', () => {
  it('runs actions in sloppy mode, where assigning an undeclared global works', async () => {
    const c = await initialized('nodejs:24', {
      code: `function main() { counter = (typeof counter === 'number' ? counter : 0) + 1; return { counter } }`,
    })
    expect((await run(c)).body).toEqual({ counter: 1 })
    expect((await run(c)).body).toEqual({ counter: 2 })
  })

  it('waits for a returned Promise', async () => {
    const c = await initialized('nodejs:24', {
      code: `function main(p) { return new Promise((resolve) => setTimeout(() => resolve({ late: p.n * 2 }), 50)) }`,
    })
    expect(await run(c, { n: 21 })).toEqual({ status: 200, body: { late: 42 } })
  })

  it('answers a rejected Promise with 200 and the rejection as error (an application error)', async () => {
    const c = await initialized('nodejs:24', {
      code: `async function main() { throw new TypeError('nope') }`,
    })
    const reply = await run(c)
    expect(reply.status).toBe(200)
    expect(reply.body).toEqual({ error: expect.objectContaining({ name: 'TypeError', message: 'nope' }) })
  })

  it('treats a bare return as an empty result, and finds main on module.exports', async () => {
    const c = await initialized('nodejs:24', { code: `module.exports.main = function () { return }` })
    expect(await run(c)).toEqual({ status: 200, body: {} })
  })

  it('loads a zip with index.js and a named entry point', async () => {
    const code = await zipBase64({ 'index.js': `exports.handler = () => ({ from: 'index.js' })` })
    const c = await initialized('nodejs:24', { code, binary: true, main: 'handler' })
    expect(await run(c)).toEqual({ status: 200, body: { from: 'index.js' } })
  })

  it('refuses a zip with neither package.json nor index.js', async () => {
    const c = await startRuntime(docker, imageFor('nodejs:24'))
    started.push(c)
    const code = await zipBase64({ 'lib/other.js': 'exports.main = () => ({})' })
    const reply = await c.post('/init', { value: { name: 'x', main: 'main', code, binary: true } })
    expect(reply).toEqual({
      status: 502,
      body: {
        error:
          'Initialization has failed due to: Zipped actions must contain either package.json or index.js at the root.',
      },
    })
  })

  it("runs one /run at a time unless initialised with __OW_ALLOW_CONCURRENT, then tags each one's lines", async () => {
    const code = `async function main(p) {
      console.log('from ' + p.n)
      // The first one runs long enough for the second to arrive during it, however loaded the host.
      await new Promise((r) => setTimeout(r, p.n === 1 ? 2000 : 300))
      return { n: p.n, id: process.env.__OW_ACTIVATION_ID }
    }`
    const runAs = (c: RuntimeContainer, n: number) =>
      c.post('/run', {
        value: { n },
        activation_id: `id${n}`,
        namespace: 'guest',
        action_name: 'x',
        deadline: '0',
      })
    const one = await initialized('nodejs:24', { code }, await pinnedRuntime('nodejs:24'))
    const [a, b] = await Promise.all([runAs(one, 1), runAs(one, 2)])
    expect(a).toEqual({ status: 200, body: { n: 1, id: 'id1' } })
    expect(b).toEqual({ status: 403, body: { error: 'System not ready, status is running.' } })
    const many = await initialized(
      'nodejs:24',
      { code, env: { __OW_ALLOW_CONCURRENT: 'true' } },
      await pinnedRuntime('nodejs:24'),
    )
    const replies = await Promise.all([1, 2, 3].map((n) => runAs(many, n)))
    expect(replies.map((r) => r.body)).toEqual([1, 2, 3].map((n) => ({ n, id: `id${n}` })))
    const { stdout, stderr } = await many.logsAfter(0)
    const tagged = (n: number) => `\u001eid${n}\u001f`
    for (const n of [1, 2, 3]) {
      expect(stdout).toContain(`${tagged(n)}from ${n}\n`)
      expect(stdout).toContain(`${tagged(n)}${SENTINEL}\n`)
      expect(stderr).toContain(`${tagged(n)}${SENTINEL}\n`)
    }
  })
})

describe('python:3', () => {
  it('calls the function the main option names', async () => {
    const c = await initialized('python:3', {
      main: 'greet',
      code: `def main(args):\n    return {'wrong': True}\n\ndef greet(args):\n    return {'hi': args['who']}\n`,
    })
    expect(await run(c, { who: 'Ada' })).toEqual({ status: 200, body: { hi: 'Ada' } })
  })

  it('refuses a zip without __main__.py', async () => {
    const c = await startRuntime(docker, imageFor('python:3'))
    started.push(c)
    const code = await zipBase64({ 'other.py': 'def main(args):\n    return {}\n' })
    const reply = await c.post('/init', { value: { name: 'x', main: 'main', code, binary: true } })
    expect(reply.status).toBe(502)
    expect(reply.body).toEqual({ error: expect.stringContaining('Zip file does not include __main__.py') })
  })
})
