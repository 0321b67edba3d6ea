import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import yazl from 'yazl'
import { ensureRuntimes } from '../../runtimes/build/index.ts'
import { annotation, docker, fnRecord, makeInvoker, request, type TestInvoker } from './helpers.ts'

// Building the runtime images from scratch (debootstrap) takes minutes; when up to date it is a no-op.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 15 * 60_000 })

// OpenWhisk actions, unchanged, on the real runtime images (built offline by runtimes/build).
describe('invoker with the nodejs:24 and python:3 runtimes', () => {
  let t: TestInvoker
  beforeAll(async () => {
    await ensureRuntimes(docker, { kinds: ['nodejs:24', 'python:3'] })
    t = await makeInvoker({ memoryBudgetMiB: 2048, prewarm: [{ kind: 'nodejs:24', memory: 256, count: 1 }] })
    await t.invoker.start()
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  const js = (code: string, limits = {}) => fnRecord({ kind: 'nodejs:24', limits, codeSize: code.length })
  const py = (code: string, limits = {}) => fnRecord({ kind: 'python:3', limits, codeSize: code.length })

  it('runs a JS action with parameters, in a prewarmed container first and warm after', async () => {
    const code = `function main(params) { console.log('hi from', params.name); return { payload: 'Hello, ' + params.name } }`
    const fn = js(code)
    const first = await t.invoker.invoke(request(fn, { name: 'Niko' }, code))
    expect(first.response).toMatchObject({ status: 'success', result: { payload: 'Hello, Niko' } })
    expect(annotation(first, 'start')).toBe('prewarmed')
    expect(first.logs).toEqual([expect.stringMatching(/ stdout: hi from Niko$/)])
    const second = await t.invoker.invoke(request(fn, { name: 'Ada' }, code))
    expect(second.response.result).toEqual({ payload: 'Hello, Ada' })
    expect(annotation(second, 'start')).toBe('warm')
    expect(second.logs).toEqual([expect.stringMatching(/ stdout: hi from Ada$/)])
  })

  it('runs a zipped JS action (binary code sent base64 to /init)', async () => {
    const zip = new yazl.ZipFile()
    zip.addBuffer(Buffer.from(`exports.main = (p) => ({ zipped: true, got: p.x })`), 'index.js')
    zip.end()
    const chunks: Buffer[] = []
    for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer)
    const bytes = Buffer.concat(chunks)
    const fn = fnRecord({ kind: 'nodejs:24', binary: true, codeSize: bytes.length })
    const rec = await t.invoker.invoke({ ...request(fn, { x: 7 }), code: bytes })
    expect(rec.response).toMatchObject({ status: 'success', result: { zipped: true, got: 7 } })
  })

  it('runs an async JS action', async () => {
    const code = `async function main(p) { await new Promise((r) => setTimeout(r, 20)); return { doubled: p.n * 2 } }`
    const rec = await t.invoker.invoke(request(js(code), { n: 21 }, code))
    expect(rec.response).toMatchObject({ status: 'success', result: { doubled: 42 } })
  })

  it('reports a thrown error as a developer error and a rejected promise as an application error', async () => {
    // OpenWhisk's WskActionTests "throws an uncaught exception and returns correct status code".
    const thrown = `function main() { throw new Error('kaboom') }`
    const a = await t.invoker.invoke(request(js(thrown), {}, thrown))
    expect(a.response.status).toBe('action developer error')
    expect(JSON.stringify(a.response.result)).toMatch(/kaboom/)
    const rejected = `function main() { return Promise.reject({ error: 'nope' }) }`
    const b = await t.invoker.invoke(request(js(rejected), {}, rejected))
    expect(b.response.status).toBe('application error')
    expect(JSON.stringify((b.response.result as { error: unknown }).error)).toMatch(/nope/)
  })

  it('reports code that does not compile as action developer error with the runtime message', async () => {
    const code = `function main( {`
    const rec = await t.invoker.invoke(request(js(code), {}, code))
    expect(rec.response.status).toBe('action developer error')
    expect((rec.response.result as { error: string }).error).toMatch(/Initialization has failed|SyntaxError/)
  })

  it('times out an action that never answers', async () => {
    const code = `function main() { return new Promise(() => {}) }`
    const rec = await t.invoker.invoke(request(js(code, { timeout: 1000 }), {}, code))
    expect(rec.response).toMatchObject({
      status: 'action developer error',
      result: { error: 'The action exceeded its time limits of 1000 milliseconds.' },
    })
    expect(annotation(rec, 'timeout')).toBe(true)
  })

  it('reports an action that outgrows its 128 MB as out of memory', async () => {
    const code = `function main() { const a = []; for (let i = 0; i < 64; i++) a.push(Buffer.alloc(16 * 1024 * 1024, 1)); return { n: a.length } }`
    const rec = await t.invoker.invoke(request(js(code, { memory: 128 }), {}, code))
    expect(rec.response.status).toBe('action developer error')
    expect((rec.response.result as { error: string }).error).toMatch(/memory/)
  })

  it('runs a Python action with parameters and reports a broken one', async () => {
    const code = `def main(args):\n    print("python says hi")\n    return {"greeting": "Hello " + args.get("name", "stranger")}\n`
    const rec = await t.invoker.invoke(request(py(code), { name: 'Guido' }, code))
    expect(rec.response).toMatchObject({ status: 'success', result: { greeting: 'Hello Guido' } })
    expect(rec.logs).toEqual([expect.stringMatching(/ stdout: python says hi$/)])
    const bad = `def main(args)\n    return {}\n`
    const failed = await t.invoker.invoke(request(py(bad), {}, bad))
    expect(failed.response.status).toBe('action developer error')
  })
})
