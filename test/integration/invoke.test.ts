import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { type AgentHandle, Cleanup, removeDir, startAgent, tempDir } from '../helpers/agent-process.ts'
import { waitFor } from '../helpers/wait-for.ts'

const docker = new Dockerode()
const cleanup = new Cleanup()
let agent: AgentHandle
let dir: string

async function json<T>(args: string[]): Promise<T> {
  const r = await agent.cli(['--json', ...args])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as T
}

async function containersOf(nodeId: string) {
  return docker.listContainers({ all: true, filters: { label: [`fnagent.node=${nodeId}`] } })
}

beforeAll(async () => {
  dir = tempDir()
  cleanup.add(() => removeDir(dir))
  writeFileSync(
    join(dir, 'hello.js'),
    "function main(p) { console.log('hi', p.name); return { payload: p.greeting + ', ' + p.name } }\n",
  )
  writeFileSync(
    join(dir, 'hello.py'),
    "def main(args):\n    print('py', args.get('name'))\n    return {'payload': 'Hello, ' + args.get('name', 'stranger')}\n",
  )
  writeFileSync(
    join(dir, 'slow.js'),
    'async function main(p) { await new Promise(r => setTimeout(r, p.ms)); return { slept: p.ms } }\n',
  )
  agent = await startAgent({ args: ['--no-cluster'] })
  cleanup.add(() => removeDir(agent.dataDir))
  cleanup.add(() => agent.stop())
})

afterAll(() => cleanup.run())

describe('invoking through the CLI', () => {
  it('runs an OpenWhisk JS action with default and invocation parameters merged, cold then warm', async () => {
    expect(
      (
        await agent.cli([
          'fn',
          'create',
          'hello',
          join(dir, 'hello.js'),
          '-p',
          'greeting',
          'Hello',
          '-p',
          'name',
          'World',
        ])
      ).code,
    ).toBe(0)
    const first = await json<ActivationRecord>(['invoke', 'hello', '-p', 'name', 'Niko'])
    expect(first.response).toMatchObject({
      status: 'success',
      statusCode: 0,
      success: true,
      result: { payload: 'Hello, Niko' },
    })
    expect(first.activationId).toMatch(/^[0-9a-f]{32}$/)
    expect(first.logs).toHaveLength(1)
    expect(first.logs[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z stdout: hi Niko$/)
    const second = await json<ActivationRecord>(['invoke', 'hello'])
    expect(second.response.result).toEqual({ payload: 'Hello, World' })
    expect(second.cold).toBe(false)
    expect(second.annotations.find((a) => a.key === 'start')?.value).toBe('warm')

    const result = await agent.cli(['invoke', 'hello', '-p', 'name', 'R', '--result'])
    expect(JSON.parse(result.stdout)).toEqual({ payload: 'Hello, R' })
  })

  it('runs a Python action and keeps its record, result and logs', async () => {
    expect((await agent.cli(['fn', 'create', 'pyhello', join(dir, 'hello.py')])).code).toBe(0)
    const rec = await json<ActivationRecord>(['invoke', 'pyhello', '-p', 'name', 'Py'])
    expect(rec.response.result).toEqual({ payload: 'Hello, Py' })
    const got = await json<ActivationRecord>(['activation', 'get', rec.activationId])
    expect(got).toEqual(rec)
    expect(JSON.parse((await agent.cli(['activation', 'result', rec.activationId])).stdout)).toEqual({
      payload: 'Hello, Py',
    })
    expect((await agent.cli(['activation', 'logs', rec.activationId])).stdout).toMatch(/stdout: py Py\n$/)
  })

  it('returns the id at once with --async and records the activation when it ends', async () => {
    expect((await agent.cli(['fn', 'create', 'slow', join(dir, 'slow.js')])).code).toBe(0)
    const r = await json<{ activationId: string }>(['invoke', 'slow', '-p', 'ms', '300', '--async'])
    const rec = await waitFor(
      async () => {
        const g = await agent.cli(['--json', 'activation', 'get', r.activationId])
        return g.code === 0 ? (JSON.parse(g.stdout) as ActivationRecord) : null
      },
      { what: 'the async activation record', timeoutMs: 30_000 },
    )
    expect(rec.response.result).toEqual({ slept: 300 })
    const list = await agent.cli(['activation', 'list', '--fn', 'slow'])
    expect(list.stdout).toMatch(
      new RegExp(`${r.activationId}\\s+nodejs:24\\s+(cold|warm)\\s+\\d+ms\\s+success\\s+slow:0.0.1`),
    )
  })

  it('takes -c (limits.concurrency) for a nodejs function and refuses it above 1 for python', async () => {
    expect((await agent.cli(['fn', 'create', 'together', join(dir, 'slow.js'), '-c', '8'])).code).toBe(0)
    const fn = await json<{ limits: { concurrency: number } }>(['fn', 'get', 'together'])
    expect(fn.limits.concurrency).toBe(8)
    const rec = await json<ActivationRecord>(['invoke', 'together', '-p', 'ms', '10'])
    expect(rec.response.result).toEqual({ slept: 10 })
    const py = await agent.cli(['fn', 'create', 'pytogether', join(dir, 'hello.py'), '-c', '2'])
    expect(py.code).not.toBe(0)
    expect(py.stderr).toContain('concurrency 2 is not supported by kind python:3')
  })

  it('exits non-zero and shows the error of a failing action', async () => {
    writeFileSync(join(dir, 'boom.js'), "function main() { throw new Error('boom') }\n")
    expect((await agent.cli(['fn', 'create', 'boom', join(dir, 'boom.js')])).code).toBe(0)
    const r = await agent.cli(['invoke', 'boom'])
    expect(r.code).toBe(1)
    // A thrown error is the developer's (OpenWhisk: "An error has occurred: …"), not an application error.
    expect(r.stdout).toContain('action developer error')
    expect(r.stdout).toContain('boom')
  })
})

describe('containers the agent leaves behind', () => {
  it('removes them at the next start after a kill -9', async () => {
    writeFileSync(join(dir, 'leftover.js'), 'function main() { return { ok: true } }\n')
    expect((await agent.cli(['fn', 'create', 'leftover', join(dir, 'leftover.js')])).code).toBe(0)
    expect((await agent.cli(['invoke', 'leftover'])).code).toBe(0)
    const nodeId = (await json<{ nodeId: string }>(['status'])).nodeId
    const before = (await containersOf(nodeId)).map((c) => c.Id)
    expect(before.length).toBeGreaterThan(1) // the warm container of leftover, and a prewarmed container
    await agent.kill9()
    const orphaned = (await containersOf(nodeId)).map((c) => c.Id)
    expect(orphaned).toEqual(expect.arrayContaining(before)) // still there: nobody cleaned up
    agent = await startAgent({ dataDir: agent.dataDir, args: ['--no-cluster'] })
    await waitFor(async () => (await containersOf(nodeId)).every((c) => !before.includes(c.Id)), {
      what: "the killed run's containers to be removed",
      timeoutMs: 30_000,
    })
  })
})

describe('stopping the agent', () => {
  it('finishes in-flight work on SIGTERM, keeps its record, and exits 0', async () => {
    expect((await agent.cli(['fn', 'create', 'drained', join(dir, 'slow.js')])).code).toBe(0)
    const started = await json<{ activationId: string }>(['invoke', 'drained', '-p', 'ms', '4000', '--async'])
    // In flight from receipt (cold start included) until its record is kept: a window wide enough
    // for a status poll of a loaded machine, and shorter than the drain (drainMs, 10 s).
    await waitFor(
      async () => {
        const s = await json<{ activations: { inflight: number } }>(['status'])
        return s.activations.inflight > 0
      },
      { what: 'the activation to be in flight', timeoutMs: 30_000 },
    )
    expect(await agent.stop('SIGTERM')).toBe(0)
    expect(agent.output()).toContain('stopping: draining in-flight work')
    agent = await startAgent({ dataDir: agent.dataDir, args: ['--no-cluster'] })
    const rec = await json<ActivationRecord>(['activation', 'get', started.activationId])
    expect(rec.response).toMatchObject({ success: true, result: { slept: 4000 } })
  })
})
