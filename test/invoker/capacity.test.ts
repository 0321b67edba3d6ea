import { afterEach, describe, expect, it, vi } from 'vitest'
import { waitFor } from '../helpers/wait-for.ts'
import { containersOf, docker, fnRecord, makeInvoker, request, type TestInvoker } from './helpers.ts'

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

describe('invoker capacity and lifecycle', () => {
  const cleanups: TestInvoker[] = []
  afterEach(async () => {
    for (const t of cleanups.splice(0)) await t.cleanup()
  })
  const make = async (...args: Parameters<typeof makeInvoker>) => {
    const t = await makeInvoker(...args)
    cleanups.push(t)
    return t
  }

  it('refuses with NODE_FULL, naming the budget, when running activations fill it', async () => {
    const t = await make({ memoryBudgetMiB: 256 }, { fixtureAsNode: true })
    await t.invoker.start()
    const fn = fnRecord({ limits: { memory: 256 } })
    const running = t.invoker.invoke(request(fn, { sleepMs: 1500 }))
    await waitFor(() => t.invoker.state().inflight === 1, {
      what: 'activation running',
      timeoutMs: 10_000,
      everyMs: 25,
    })
    const other = fnRecord({ limits: { memory: 128 } })
    expect(t.invoker.canAccept(other)).toBe(false)
    await expect(t.invoker.invoke(request(other))).rejects.toMatchObject({
      code: 'NODE_FULL',
      message: expect.stringMatching(/256 MiB/),
    })
    expect((await running).response.status).toBe('success')
    expect(t.invoker.canAccept(other)).toBe(true)
  })

  it('evicts the least recently used idle container to make room', async () => {
    const t = await make({ memoryBudgetMiB: 512 }, { fixtureAsNode: true })
    await t.invoker.start()
    const a = fnRecord()
    const b = fnRecord()
    const c = fnRecord()
    await t.invoker.invoke(request(a))
    await t.invoker.invoke(request(b))
    await t.invoker.invoke(request(a)) // b is now the least recently used
    const rc = await t.invoker.invoke(request(c))
    expect(rc.response.status).toBe('success')
    const warm = t.invoker.state().warm
    expect(Object.keys(warm).sort()).toEqual([`guest/${a.name}@1`, `guest/${c.name}@1`].sort())
    expect((await t.invoker.invoke(request(a))).cold).toBe(false)
  })

  it('removes containers left behind by a crashed run of the same node id at start', async () => {
    const first = await make({}, { fixtureAsNode: true })
    await first.invoker.start()
    await first.invoker.invoke(request(fnRecord()))
    expect(await containersOf(first.nodeId)).toHaveLength(1)
    // Simulate kill -9: the first invoker is never stopped; a new one starts with the same node id.
    const second = await make({}, { fixtureAsNode: true, nodeId: first.nodeId })
    await second.invoker.start()
    expect(await containersOf(first.nodeId)).toHaveLength(0)
  })

  it('answers whisk internal error when the container is killed mid-activation', async () => {
    const t = await make({}, { fixtureAsNode: true })
    await t.invoker.start()
    const fn = fnRecord()
    await t.invoker.invoke(request(fn))
    const [info] = await containersOf(t.nodeId)
    const pending = t.invoker.invoke(request(fn, { sleepMs: 30_000 }))
    await waitFor(() => t.invoker.state().inflight === 1, {
      what: 'activation running',
      timeoutMs: 10_000,
      everyMs: 25,
    })
    await docker.getContainer(info!.Id).kill()
    const rec = await pending
    expect(rec.response.status).toBe('whisk internal error')
    expect(rec.response.statusCode).toBe(3)
    expect((await t.invoker.invoke(request(fn))).response.status).toBe('success')
  })

  it('forgets an idle warm container that died and starts a fresh one', async () => {
    const t = await make({}, { fixtureAsNode: true })
    await t.invoker.start()
    const fn = fnRecord()
    await t.invoker.invoke(request(fn))
    const [info] = await containersOf(t.nodeId)
    await docker.getContainer(info!.Id).kill()
    await waitFor(() => Object.keys(t.invoker.state().warm).length === 0, {
      what: 'dead container dropped',
      timeoutMs: 10_000,
      everyMs: 25,
    })
    const rec = await t.invoker.invoke(request(fn))
    expect(rec.response.status).toBe('success')
    expect(rec.cold).toBe(true)
  })

  it('pauses an idle warm container and unpauses it for the next invocation', async () => {
    const t = await make({ pauseGraceMs: 50 }, { fixtureAsNode: true })
    await t.invoker.start()
    const fn = fnRecord()
    await t.invoker.invoke(request(fn))
    await waitFor(async () => (await containersOf(t.nodeId))[0]?.State === 'paused', {
      what: 'pause',
      timeoutMs: 10_000,
      everyMs: 25,
    })
    const rec = await t.invoker.invoke(request(fn, { x: 1 }))
    expect(rec.cold).toBe(false)
    expect(rec.response.result).toMatchObject({ echo: { x: 1 } })
  })

  it('drains on stop: refuses new work with DRAINING and removes its containers', async () => {
    const t = await make({ prewarm: [{ kind: 'nodejs:24', memory: 256, count: 1 }] }, { fixtureAsNode: true })
    await t.invoker.start()
    const fn = fnRecord()
    const inflight = t.invoker.invoke(request(fn, { sleepMs: 300 }))
    await waitFor(() => t.invoker.state().inflight === 1, {
      what: 'activation running',
      timeoutMs: 10_000,
      everyMs: 25,
    })
    const stopping = t.invoker.stop({ drainMs: 20_000 })
    await expect(t.invoker.invoke(request(fn))).rejects.toMatchObject({ code: 'DRAINING' })
    expect((await inflight).response.status).toBe('success')
    await stopping
    await t.invoker.stop()
    expect(await containersOf(t.nodeId)).toHaveLength(0)
  })

  it('leaves no container behind when stopped while prewarmed containers are being refilled', async () => {
    const t = await make({ prewarm: [{ kind: 'nodejs:24', memory: 256, count: 2 }] }, { fixtureAsNode: true })
    await t.invoker.start()
    const pending = t.invoker.invoke(request(fnRecord(), { sleepMs: 5_000 }))
    await t.invoker.stop()
    expect((await pending).response.status).toBe('whisk internal error')
    expect(await containersOf(t.nodeId)).toHaveLength(0)
  })

  it('refuses with RUNTIME_MISSING when the image is not on the node', async () => {
    const t = await make({ memoryBudgetMiB: 1024 })
    await t.invoker.start()
    const fn = fnRecord({ kind: 'blackbox', image: 'fnagent-test/does-not-exist:1' })
    await expect(t.invoker.invoke(request(fn))).rejects.toMatchObject({ code: 'RUNTIME_MISSING' })
    expect(t.invoker.state().budgetFreeMiB).toBe(1024)
  })
})
