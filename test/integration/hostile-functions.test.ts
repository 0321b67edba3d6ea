import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import yazl from 'yazl'
import { type AgentHandle, Cleanup, removeDir, startAgent, tempDir } from '../helpers/agent-process.ts'

// Functions that push the agent's limits: output without newlines, code at the size limit.

const MiB = 1024 * 1024
const cleanup = new Cleanup()
let agent: AgentHandle
let dir: string

beforeAll(async () => {
  dir = tempDir('fnagent-hostile-')
  cleanup.add(() => removeDir(dir))
  agent = await startAgent({ args: ['--no-cluster'], env: { FNAGENT_LOG_LEVEL: 'info' } })
  cleanup.add(() => removeDir(agent.dataDir))
  cleanup.add(() => agent.stop())
})
afterAll(() => cleanup.run())

/** GET on the agent's unix socket; the parsed answer and how long it took, ms. */
function localGet(path: string): Promise<{ status: number; body: unknown; ms: number }> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: agent.socket, path, timeout: 60_000 }, (res) => {
      let text = ''
      res.on('data', (d) => {
        text += d
      })
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), ms: performance.now() - started }),
      )
    })
    req.on('error', reject)
    req.end()
  })
}

function zip(files: Record<string, Buffer>): Promise<Buffer> {
  const z = new yazl.ZipFile()
  for (const [name, data] of Object.entries(files)) z.addBuffer(data, name, { compress: false })
  z.end()
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    z.outputStream.on('data', (c: Buffer) => chunks.push(c))
    z.outputStream.on('end', () => resolve(Buffer.concat(chunks)))
    z.outputStream.on('error', reject)
  })
}

describe('a function printing 64 MiB without a newline', () => {
  it('leaves the agent answering its status call throughout, and its record says the logs were truncated', {
    timeout: 240_000,
  }, async () => {
    const file = join(dir, 'flood.js')
    writeFileSync(
      file,
      `function main() {
        const chunk = 'x'.repeat(64 * 1024)
        for (let i = 0; i < 1024; i++) process.stdout.write(chunk)
        return { printed: 64 * 1024 * 1024 }
      }`,
    )
    expect((await agent.cli(['fn', 'create', 'flood', file])).code).toBe(0)
    let done = false
    const invoked = agent.cli(['invoke', 'flood', '--json'], { timeoutMs: 180_000 }).finally(() => {
      done = true
    })
    const times: number[] = []
    while (!done) {
      const r = await localGet('/v1/status')
      expect(r.status).toBe(200)
      times.push(r.ms)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const out = await invoked
    expect(out.code, out.stderr).toBe(0)
    const record = JSON.parse(out.stdout) as { activationId: string; response: { result: unknown } }
    expect(record.response.result).toEqual({ printed: 64 * MiB })
    const logs = (await localGet(`/v1/activations/${record.activationId}/logs`)).body as { logs: string[] }
    expect(logs.logs.at(-1)).toMatch(/Logs were truncated because the total bytes size exceeds the limit/)
    times.sort((a, b) => a - b)
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1)
    const within50 = times.filter((t) => t <= 50).length
    console.log(
      `status calls during the 64 MiB flood: ${times.length}, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms, within 50 ms: ${within50}/${times.length}`,
    )
    // Before, the agent's event loop was pinned for minutes (quadratic re-splitting); only the
    // absence of such a stall is asserted here, the 50 ms figure is printed (a shared, busy machine).
    expect(times.length).toBeGreaterThan(0)
    expect(times.at(-1)!).toBeLessThan(2000)
  })
})

describe('code at the size limit (48 MiB)', () => {
  it('deploys and runs a zip just under the limit; one over it gets a clear error at once', {
    timeout: 300_000,
  }, async () => {
    const index = Buffer.from(
      `const fs = require('fs'); exports.main = () => ({ size: fs.statSync(__dirname + '/blob.bin').size })`,
    )
    const limit = 48 * MiB
    const under = await zip({ 'index.js': index, 'blob.bin': randomBytes(limit - 4096) })
    expect(under.length).toBeLessThanOrEqual(limit)
    writeFileSync(join(dir, 'under.zip'), under)
    const created = await agent.cli(
      ['fn', 'create', 'atlimit', join(dir, 'under.zip'), '--kind', 'nodejs:24', '-m', '512'],
      {
        timeoutMs: 240_000,
      },
    )
    expect(created.code, created.stderr).toBe(0)
    const run = await agent.cli(['invoke', 'atlimit', '--json'], { timeoutMs: 240_000 })
    expect(run.code, run.stderr.slice(0, 500)).toBe(0)
    expect(JSON.parse(run.stdout).response).toMatchObject({ success: true, result: { size: limit - 4096 } })

    const over = await zip({ 'index.js': index, 'blob.bin': randomBytes(limit + 1024) })
    writeFileSync(join(dir, 'over.zip'), over)
    const started = Date.now()
    const refused = await agent.cli(
      ['fn', 'create', 'overlimit', join(dir, 'over.zip'), '--kind', 'nodejs:24'],
      {
        timeoutMs: 240_000,
      },
    )
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/over the limit of 50331648 bytes \(store\.maxCodeBytes\).*\[TOO_LARGE\]/)
    console.log(`a zip over the code limit refused in ${Date.now() - started} ms`)
  })
})
