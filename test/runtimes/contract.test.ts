import Dockerode from 'dockerode'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ensureRuntimes, imageFor } from '../../runtimes/build/index.ts'
import { nodejs, python, type RuntimeActions } from './actions.ts'
import { type RuntimeContainer, SENTINEL, startRuntime, zipBase64 } from './helpers.ts'

// The action protocol every runtime image must speak, as OpenWhisk's invoker and ours expect it.
const docker = new Dockerode()
const started: RuntimeContainer[] = []

beforeAll(async () => {
  // A fresh machine builds the images here (debootstrap once, a few minutes); later runs find them.
  await ensureRuntimes(docker)
}, 900_000)

afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.remove()))
})

afterAll(async () => {
  await Promise.all(started.splice(0).map((c) => c.remove()))
})

const runMessage = (value: unknown) => ({
  value,
  namespace: 'guest',
  action_name: 'hello',
  action_version: '0.0.1',
  activation_id: '0123456789abcdef0123456789abcdef',
  transaction_id: 'tx-1',
  deadline: String(Date.now() + 60_000),
})

describe.each([
  // OpenWhisk's runtimes differ on a raised error: Node answers 502 (a developer error), Python 200
  // with the error (an application error).
  { kind: 'nodejs:24', actions: nodejs, raisedStatus: 502 },
  { kind: 'python:3', actions: python, raisedStatus: 200 },
] as Array<{ kind: string; actions: RuntimeActions; raisedStatus: number }>)(
  'runtime $kind',
  ({ kind, actions, raisedStatus }) => {
    async function start(): Promise<RuntimeContainer> {
      const c = await startRuntime(docker, imageFor(kind))
      started.push(c)
      return c
    }
    async function initialized(code: string, extra: Record<string, unknown> = {}): Promise<RuntimeContainer> {
      const c = await start()
      const init = await c.post('/init', {
        value: { name: 'action', main: 'main', code, binary: false, ...extra },
      })
      expect(init.status).toBe(200)
      return c
    }

    it('runs the OpenWhisk hello action, again and again in the same container', async () => {
      const c = await initialized(actions.hello)
      expect(await c.post('/run', runMessage({ name: 'Niko' }))).toEqual({
        status: 200,
        body: { payload: 'Hello, Niko' },
      })
      expect(await c.post('/run', runMessage({ name: 'Ada' }))).toEqual({
        status: 200,
        body: { payload: 'Hello, Ada' },
      })
    })

    it('exports the activation keys as __OW_* and the init env to the action', async () => {
      const c = await initialized(actions.env, { env: { GREETING: 'hej' } })
      const msg = runMessage({})
      const reply = await c.post('/run', msg)
      expect(reply).toEqual({
        status: 200,
        body: {
          id: msg.activation_id,
          ns: 'guest',
          name: 'hello',
          deadline: msg.deadline,
          tx: 'tx-1',
          greeting: 'hej',
        },
      })
    })

    it("answers with an error when the action raises, with its runtime's OpenWhisk status", async () => {
      const c = await initialized(actions.throws)
      const reply = await c.post('/run', runMessage({}))
      expect(reply.status).toBe(raisedStatus)
      expect(reply.body).toEqual({ error: expect.stringContaining('boom') })
    })

    it('answers 502 when the action does not return a dictionary', async () => {
      const c = await initialized(actions.nonDict)
      expect(await c.post('/run', runMessage({}))).toEqual({
        status: 502,
        body: { error: 'The action did not return a dictionary.' },
      })
    })

    it('initializes only once, and refuses an init without code', async () => {
      const c = await initialized(actions.hello)
      expect(await c.post('/init', { value: { name: 'again', main: 'main', code: actions.hello } })).toEqual({
        status: 403,
        body: { error: 'Cannot initialize the action more than once.' },
      })
      const fresh = await start()
      expect(await fresh.post('/init', { value: { name: 'empty', main: 'main' } })).toEqual({
        status: 403,
        body: { error: 'Missing main/no code to execute.' },
      })
    })

    it('reports an action that does not load as a failed init, with the sentinels', async () => {
      const c = await start()
      const reply = await c.post('/init', { value: { name: 'broken', main: 'main', code: actions.broken } })
      expect(reply.status).toBe(502)
      expect(reply.body).toEqual({
        error: expect.stringMatching(/^Initialization has failed due to: SyntaxError/),
      })
      const logs = await c.logsAfter(1)
      expect(logs.stderr).toMatch(/Syntax[\s\S]*XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n$/)
    })

    it('runs a zipped action with a bundled dependency', async () => {
      const code = await zipBase64(actions.zip.files, actions.zip.stored)
      const c = await initialized(code, { binary: true, main: actions.zip.main })
      expect(await c.post('/run', runMessage({ name: 'Niko' }))).toEqual({
        status: 200,
        body: { payload: 'Hello from a dependency, Niko' },
      })
    })

    it('ends each activation with the sentinel on stdout and on stderr, after the action output', async () => {
      const c = await initialized(actions.logs)
      await c.post('/run', runMessage({}))
      const first = await c.logsAfter(1)
      expect(first.stdout).toBe(`to stdout\n${SENTINEL}\n`)
      expect(first.stderr).toBe(`to stderr\n${SENTINEL}\n`)
      await c.post('/run', runMessage({}))
      const second = await c.logsAfter(2)
      expect(second.stdout).toBe(`to stdout\n${SENTINEL}\n`.repeat(2))
      expect(second.stderr).toBe(`to stderr\n${SENTINEL}\n`.repeat(2))
    })
  },
)
