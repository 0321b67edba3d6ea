import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { waitFor } from '../helpers/wait-for.ts'
import { annotation, fnRecord, makeInvoker, request, type TestInvoker } from './helpers.ts'

vi.setConfig({ testTimeout: 60_000, hookTimeout: 120_000 })

// The nodejs:24 kind is mapped to the blackbox test server here: these tests are about the pool,
// not about the runtime images (see runtimes.test.ts for those).
describe('invoker pool: warm reuse, prewarmed containers, logs', () => {
  let t: TestInvoker
  beforeAll(async () => {
    t = await makeInvoker(
      { prewarm: [{ kind: 'nodejs:24', memory: 256, count: 1 }], memoryBudgetMiB: 2048 },
      { fixtureAsNode: true },
    )
    await t.invoker.start()
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('fills the prewarm pool at start', () => {
    expect(t.invoker.state().prewarm).toEqual({ 'nodejs:24@256': 1 })
  })

  it('runs the first invocation of a new function in a prewarmed container, which is refilled', async () => {
    const fn = fnRecord()
    const rec = await t.invoker.invoke(request(fn, { hello: 'world' }))
    expect(rec.response.status).toBe('success')
    expect(rec.response.result).toMatchObject({ echo: { hello: 'world' }, env: { initialized: true } })
    expect(annotation(rec, 'start')).toBe('prewarmed')
    expect(rec.cold).toBe(true)
    expect(annotation(rec, 'initTime')).toBeTypeOf('number')
    await waitFor(() => t.invoker.state().prewarm['nodejs:24@256'] === 1, {
      what: 'prewarmed container refill',
      timeoutMs: 30_000,
      everyMs: 25,
    })
  })

  it('reuses the warm container for the second invocation and passes the OpenWhisk /run fields', async () => {
    const fn = fnRecord({ name: 'pkg/echo', version: 3 })
    const first = await t.invoker.invoke(request(fn, { n: 1 }))
    const second = await t.invoker.invoke({ ...request(fn, { n: 2 }), transactionId: 'tx-1' })
    expect(first.cold).toBe(true)
    expect(second.cold).toBe(false)
    expect(annotation(second, 'start')).toBe('warm')
    expect(annotation(second, 'initTime')).toBeUndefined()
    expect(second.response.result).toMatchObject({
      echo: { n: 2 },
      env: {
        namespace: 'guest',
        action_name: '/guest/pkg/echo',
        action_version: '0.0.3',
        activation_id: second.activationId,
        transaction_id: 'tx-1',
      },
    })
    expect(second.version).toBe('0.0.3')
    expect(annotation(second, 'path')).toBe('guest/pkg/echo')
    expect(t.invoker.state().warm[`guest/pkg/echo@3`]).toBe(1)
    expect(t.invoker.hasIdleWarm(fn)).toBe(true)
    expect(t.invoker.hasIdleWarm({ ...fn, version: 4 })).toBe(false)
  })

  it('never reuses a container across versions', async () => {
    const v1 = fnRecord()
    await t.invoker.invoke(request(v1))
    const v2 = await t.invoker.invoke(request({ ...v1, version: 2 }))
    expect(v2.cold).toBe(true)
    expect(v2.version).toBe('0.0.2')
  })

  it('captures logs per activation, without mixing two concurrent containers', async () => {
    const a = fnRecord()
    const b = fnRecord()
    const lines = (tag: string) => Array.from({ length: 50 }, (_, i) => `${tag} line ${i}`)
    const [ra, rb] = await Promise.all([
      t.invoker.invoke(request(a, { log: lines('A'), errLog: ['A err'], sleepMs: 200 })),
      t.invoker.invoke(request(b, { log: lines('B'), errLog: ['B err'], sleepMs: 200 })),
    ])
    expect(ra.logs.filter((l) => l.includes(' stdout: A line'))).toHaveLength(50)
    expect(ra.logs.some((l) => l.includes('B '))).toBe(false)
    expect(rb.logs.filter((l) => l.includes(' stdout: B line'))).toHaveLength(50)
    expect(rb.logs.some((l) => l.includes('A '))).toBe(false)
    expect(ra.logs).toContainEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z stderr: A err$/))
    expect(ra.logs.some((l) => l.includes('XXX_THE_END'))).toBe(false)
    // The next activation of the same container starts with empty logs.
    const again = await t.invoker.invoke(request(a, { log: ['only me'] }))
    expect(again.cold).toBe(false)
    expect(again.logs).toHaveLength(1)
    expect(again.logs[0]).toMatch(/stdout: only me$/)
  })

  it('gives concurrent invocations of one function a container each (concurrency 1)', async () => {
    const fn = fnRecord()
    const recs = await Promise.all(
      [1, 2, 3].map((n) => t.invoker.invoke(request(fn, { n, log: [`run ${n}`], sleepMs: 300 }))),
    )
    for (const [i, rec] of recs.entries()) {
      expect(rec.response.result).toMatchObject({ echo: { n: i + 1 } })
      expect(rec.logs).toEqual([expect.stringMatching(new RegExp(`stdout: run ${i + 1}$`))])
    }
    expect(t.invoker.state().warm[`guest/${fn.name}@1`]).toBe(3)
  })

  it('truncates logs over the limit with a marker line', async () => {
    const fn = fnRecord({ limits: { logs: 0 } })
    const rec = await t.invoker.invoke(request(fn, { log: ['a', 'b'] }))
    expect(rec.response.status).toBe('success')
    expect(rec.logs.at(-1)).toMatch(
      /Logs were truncated because the total bytes size exceeds the limit of 0 bytes\./,
    )
  })

  it('maps an error answer to application error and a non-JSON answer to action developer error', async () => {
    const fn = fnRecord()
    const app = await t.invoker.invoke(request(fn, { fail: 'boom' }))
    expect(app.response).toMatchObject({ status: 'application error', statusCode: 1, success: false })
    expect(app.response.result).toEqual({ error: 'boom' })
    expect(app.statusCode).toBe(1)
    const bad = await t.invoker.invoke(request(fn, { notObject: true }))
    expect(bad.response.status).toBe('action developer error')
    expect(bad.response.result).toEqual({ error: expect.stringMatching(/valid JSON/) })
  })

  it('gives action developer error with the runtime message when /init fails', async () => {
    const rec = await t.invoker.invoke(request(fnRecord(), {}, 'bad init'))
    expect(rec.response.status).toBe('action developer error')
    expect(rec.response.result).toEqual({ error: 'Initialization has failed due to: bad init' })
    expect(rec.logs.some((l) => l.includes('init failed on purpose'))).toBe(true)
  })

  it('refuses a result over the payload limit with a clear error', async () => {
    const rec = await t.invoker.invoke(request(fnRecord(), { bigResult: 2 * 1024 * 1024 }))
    // OpenWhisk: a truncated response is an application error.
    expect(rec.response.status).toBe('application error')
    expect(String((rec.response.result as { error: string }).error)).toMatch(/exceeded the allowed length/)
  })

  it('refuses parameters over the payload limit before running', async () => {
    await expect(
      t.invoker.invoke(request(fnRecord(), { big: 'x'.repeat(2 * 1024 * 1024) })),
    ).rejects.toMatchObject({
      code: 'TOO_LARGE',
    })
  })

  it('kills an activation at its time limit and discards the container', async () => {
    // Long enough for the action to print its first line even on a loaded machine.
    const fn = fnRecord({ limits: { timeout: 3000 } })
    await t.invoker.invoke(request(fn))
    const rec = await t.invoker.invoke(request(fn, { sleepMs: 30_000, log: ['before sleep'] }))
    expect(rec.response.status).toBe('action developer error')
    expect(rec.response.result).toEqual({
      error: 'The action exceeded its time limits of 3000 milliseconds.',
    })
    expect(annotation(rec, 'timeout')).toBe(true)
    expect(rec.logs.some((l) => l.includes('before sleep'))).toBe(true)
    const next = await t.invoker.invoke(request(fn))
    expect(next.response.status).toBe('success')
    expect(next.cold).toBe(true)
  })

  it('reports an out-of-memory kill as action developer error', async () => {
    const fn = fnRecord({ limits: { memory: 128 } })
    const rec = await t.invoker.invoke(request(fn, { allocMiB: 400 }))
    expect(rec.response.status).toBe('action developer error')
    expect(String((rec.response.result as { error: string }).error)).toMatch(/memory/)
  })
})
