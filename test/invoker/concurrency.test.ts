import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { annotation, fnRecord, makeInvoker, pinnedRuntime, request, type TestInvoker } from './helpers.ts'

vi.setConfig({ testTimeout: 90_000, hookTimeout: 15 * 60_000 })

// Every activation reports the container it ran in (the hostname is the container's id), how many
// activations its container ran at once (most, up to now), and what process.env said its own id
// was. Its logs: a console line, a line written in two pieces around an await, a stderr line.
const ACTION = `
let running = 0
let most = 0
async function main(p) {
  running++
  most = Math.max(most, running)
  if (p.slow) globalThis.slowDeadline = Number(process.env.__OW_DEADLINE)
  console.log('start ' + p.n)
  process.stdout.write('part ' + p.n)
  const until = p.afterSlow ? globalThis.slowDeadline + p.afterSlow : Date.now() + (p.sleepMs || 0)
  await new Promise((r) => setTimeout(r, p.slow ? 600000 : Math.max(0, until - Date.now())))
  process.stdout.write(' end ' + p.n + '\\n')
  console.error('err ' + p.n + ' ' + process.env.__OW_ACTIVATION_ID)
  running--
  return { n: p.n, id: process.env.__OW_ACTIVATION_ID, host: require('os').hostname(), most }
}`

// Lines of one stream keep their order; stdout and stderr are two pipes, so not across them.
const text = (rec: ActivationRecord) => [
  ...rec.logs.map((l) => l.replace(/^\S+ /, '')).filter((l) => l.startsWith('stdout: ')),
  ...rec.logs.map((l) => l.replace(/^\S+ /, '')).filter((l) => l.startsWith('stderr: ')),
]

// Intra-container concurrency on the real nodejs:24 runtime image (OpenWhisk's limits.concurrency).
describe('invoker: several activations at once in one container', () => {
  let t: TestInvoker
  beforeAll(async () => {
    const image = await pinnedRuntime('nodejs:24')
    t = await makeInvoker({ memoryBudgetMiB: 2048, pauseGraceMs: 0 }, { images: { 'nodejs:24': image } })
    await t.invoker.start()
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  const js = (limits: { concurrency: number; timeout?: number }) =>
    fnRecord({ kind: 'nodejs:24', limits, codeSize: ACTION.length })
  const invoke = (fn: ReturnType<typeof js>, params: Record<string, unknown>) =>
    t.invoker.invoke(request(fn, params, ACTION))

  it('runs concurrent activations in one container, each with its own result, env and logs', async () => {
    const fn = js({ concurrency: 10 })
    const first = await invoke(fn, { n: 0 })
    expect(first.response.status).toBe('success')
    expect(text(first)).toEqual([
      'stdout: start 0',
      'stdout: part 0 end 0',
      `stderr: err 0 ${first.activationId}`,
    ])
    const recs = await Promise.all(
      Array.from({ length: 10 }, (_, i) => invoke(fn, { n: i + 1, sleepMs: 500 })),
    )
    const hosts = new Set(recs.map((r) => (r.response.result as { host: string }).host))
    expect(hosts).toEqual(new Set([(first.response.result as { host: string }).host]))
    for (const [i, rec] of recs.entries()) {
      const n = i + 1
      expect(annotation(rec, 'start')).toBe('warm')
      expect(rec.response.result).toMatchObject({ n, id: rec.activationId })
      // Only its own lines, whole, in order, although ten activations wrote at the same time.
      expect(text(rec)).toEqual([
        `stdout: start ${n}`,
        `stdout: part ${n} end ${n}`,
        `stderr: err ${n} ${rec.activationId}`,
      ])
    }
    // They did run at the same time in that one container.
    expect(Math.max(...recs.map((r) => (r.response.result as { most: number }).most))).toBeGreaterThan(1)
    expect(t.invoker.state().warm[`guest/${fn.name}@1`]).toBe(1)
    expect(t.invoker.state().warmSlots[`guest/${fn.name}@1`]).toBe(10)
  })

  it('gives a container no more activations than its concurrency', async () => {
    const fn = js({ concurrency: 3 })
    await invoke(fn, { n: 0 })
    const recs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => invoke(fn, { n: i + 1, sleepMs: 800 })),
    )
    const perHost = new Map<string, number>()
    for (const rec of recs) {
      expect(rec.response.status).toBe('success')
      const { host, most } = rec.response.result as { host: string; most: number }
      perHost.set(host, Math.max(perHost.get(host) ?? 0, most))
    }
    for (const most of perHost.values()) expect(most).toBeLessThanOrEqual(3)
    // The warm container took three at once; the others went to containers of their own.
    expect([...perHost.values()]).toContain(3)
    expect(perHost.size).toBeGreaterThanOrEqual(3)
  })

  it('starts a burst of a cold function in as few containers as its concurrency allows', async () => {
    const fn = js({ concurrency: 5 })
    const recs = await Promise.all(Array.from({ length: 10 }, (_, i) => invoke(fn, { n: i, sleepMs: 300 })))
    const hosts = new Map<string, number>()
    for (const rec of recs) {
      expect(rec.response.status).toBe('success')
      const { host } = rec.response.result as { host: string }
      hosts.set(host, (hosts.get(host) ?? 0) + 1)
    }
    // Two containers of five, not ten: the other eight waited for the two being started.
    expect([...hosts.values()]).toEqual([5, 5])
    expect(recs.filter((r) => r.cold)).toHaveLength(2)
    expect(t.invoker.state().warm[`guest/${fn.name}@1`]).toBe(2)
  })

  it('times out one activation without killing the others; the container is removed after them', async () => {
    const fn = js({ concurrency: 5, timeout: 6000 })
    const warmup = await invoke(fn, { n: 0 })
    const host = (warmup.response.result as { host: string }).host
    const slowAt = performance.now()
    const slow = invoke(fn, { n: 1, slow: true })
    // The others start while the slow one runs and end 2 s after its deadline, within their own.
    await waitFor(() => performance.now() - slowAt >= 3000, {
      what: 'the slow activation running',
      timeoutMs: 5000,
    })
    const others = Promise.all([2, 3, 4].map((n) => invoke(fn, { n, afterSlow: 2000 })))
    const timedOut = await slow
    expect(timedOut.response).toMatchObject({ status: 'action developer error', success: false })
    expect(annotation(timedOut, 'timeout')).toBe(true)
    expect(text(timedOut)).toEqual(['stdout: start 1'])
    // The container runs the others still, and takes no new activation meanwhile.
    expect(t.invoker.hasIdleWarm(fn)).toBe(false)
    const done = await others
    for (const [i, rec] of done.entries()) {
      const n = i + 2
      expect(rec.response).toMatchObject({ status: 'success', result: { n, host, id: rec.activationId } })
      expect(rec.end).toBeGreaterThan(timedOut.end)
      expect(text(rec)).toEqual([
        `stdout: start ${n}`,
        `stdout: part ${n} end ${n}`,
        `stderr: err ${n} ${rec.activationId}`,
      ])
    }
    await waitFor(() => (t.invoker.state().warm[`guest/${fn.name}@1`] ?? 0) === 0, {
      what: 'the retired container removed',
      timeoutMs: 30_000,
    })
    const next = await invoke(fn, { n: 5 })
    expect(next.cold).toBe(true)
    expect((next.response.result as { host: string }).host).not.toBe(host)
  })
})
