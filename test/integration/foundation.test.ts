import { statSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AgentHandle, Cleanup, cli, removeDir, startAgent, tempDir } from '../helpers/agent-process.ts'

const cleanup = new Cleanup()
let agent: AgentHandle
let dir: string

function raw(
  socket: string,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; body: { error: { code: string; message: string } } }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: socket, method, path, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = ''
        res.on('data', (d: Buffer) => {
          text += d
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function fnList(): Promise<Array<{ name: string; version: number }>> {
  const r = await agent.cli(['--json', 'fn', 'list'])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}

beforeAll(async () => {
  dir = tempDir()
  cleanup.add(() => removeDir(dir))
  writeFileSync(join(dir, 'hello.js'), "function main(p) { return { payload: 'Hello, ' + p.name } }\n")
  writeFileSync(join(dir, 'hello2.js'), "function main(p) { return { payload: 'Hi, ' + p.name } }\n")
  writeFileSync(join(dir, 'big.js'), `// ${'x'.repeat(4096)}\nfunction main() { return {} }\n`)
  writeFileSync(join(dir, 'params.json'), JSON.stringify({ greeting: 'hey', n: 3 }))
  agent = await startAgent({ args: ['--no-cluster'], env: { FNAGENT_STORE_MAX_CODE_BYTES: '2048' } })
  cleanup.add(() => agent.stop())
  cleanup.add(() => removeDir(agent.dataDir))
})

afterAll(() => cleanup.run())

describe('function lifecycle through the CLI', () => {
  it('creates, gets, lists, updates and deletes a function, and keeps it across a restart', async () => {
    const created = await agent.cli([
      'fn',
      'create',
      'hello',
      join(dir, 'hello.js'),
      '-p',
      'name',
      'World',
      '-P',
      join(dir, 'params.json'),
      '--memory',
      '128',
      '--timeout',
      '5000',
      '-a',
      'retry',
      'true',
    ])
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toContain('created function hello (version 1, nodejs:24)')

    const got = JSON.parse((await agent.cli(['--json', 'fn', 'get', 'hello'])).stdout)
    expect(got).toMatchObject({
      name: 'hello',
      namespace: 'guest',
      version: 1,
      kind: 'nodejs:24',
      main: 'main',
      binary: false,
      parameters: { name: 'World', greeting: 'hey', n: 3 },
      annotations: { retry: true },
      limits: { memory: 128, timeout: 5000, concurrency: 1, logs: 10 },
      env: {},
    })
    expect(got.codeHash).toMatch(/^[0-9a-f]{64}$/)
    expect(got.codeSize).toBeGreaterThan(0)
    expect(got.created).toMatch(/^\d{15}\.\d{6}$/)
    expect(got.origin).toMatch(/^12D3Koo/)

    const table = await agent.cli(['fn', 'list'])
    expect(table.stdout).toMatch(/hello\s+1\s+nodejs:24/)

    const updated = await agent.cli(['fn', 'update', 'hello', join(dir, 'hello2.js')])
    expect(updated.stdout).toContain('updated function hello (version 2')
    const v2 = JSON.parse((await agent.cli(['--json', 'fn', 'get', 'hello'])).stdout)
    expect(v2.version).toBe(2)
    expect(v2.codeHash).not.toBe(got.codeHash)
    expect(v2.limits.memory).toBe(128) // unchanged fields carry over
    expect(v2.created).toBe(got.created)
    expect(v2.updated > got.updated).toBe(true)

    // Restart: same data dir, everything still there.
    expect(await agent.stop()).toBe(0)
    agent = await startAgent({
      dataDir: agent.dataDir,
      args: ['--no-cluster'],
      env: { FNAGENT_STORE_MAX_CODE_BYTES: '2048' },
    })
    const after = JSON.parse((await agent.cli(['--json', 'fn', 'get', 'hello'])).stdout)
    expect(after).toEqual(v2)

    const other = await agent.cli(['fn', 'create', 'pkg/other', join(dir, 'hello.js')])
    expect(other.code, other.stderr).toBe(0)
    expect((await fnList()).map((f) => f.name)).toEqual(['hello', 'pkg/other'])
    const del = await agent.cli(['fn', 'delete', 'pkg/other'])
    expect(del.stdout).toContain('deleted function pkg/other')
    expect((await fnList()).map((f) => f.name)).toEqual(['hello'])
    const gone = await agent.cli(['fn', 'get', 'pkg/other'])
    expect(gone.code).toBe(1)
    expect(gone.stderr).toContain('[NOT_FOUND]')
  })
})

describe('bad input is refused with a clear error and changes nothing', () => {
  it('refuses a bad name, a missing file, an unknown kind and code over the size limit', async () => {
    const before = await fnList()
    const badName = await agent.cli(['fn', 'create', 'bad name!', join(dir, 'hello.js')])
    expect(badName.code).toBe(1)
    expect(badName.stderr).toMatch(/invalid function name .*\[INVALID_NAME\]/)
    expect(badName.stderr.split('\n').filter(Boolean)).toHaveLength(1) // one line, no stack

    const missing = await agent.cli(['fn', 'create', 'x', join(dir, 'nope.js')])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('no such file')

    const kind = await agent.cli(['fn', 'create', 'x', join(dir, 'hello.js'), '--kind', 'ruby:3'])
    expect(kind.stderr).toContain("unknown kind 'ruby:3'")
    expect(kind.stderr).toContain('[INVALID_KIND]')

    const big = await agent.cli(['fn', 'update', 'hello', join(dir, 'big.js')])
    expect(big.code).toBe(1)
    expect(big.stderr).toMatch(/over the limit of 2048 bytes.*\[TOO_LARGE\]/)

    const exists = await agent.cli(['fn', 'create', 'hello', join(dir, 'hello.js')])
    expect(exists.stderr).toContain('[ALREADY_EXISTS]')

    expect(await fnList()).toEqual(before)
  })

  it('answers malformed JSON and unknown paths with the error shape and status', async () => {
    const bad = await raw(agent.socket, 'PUT', '/v1/functions/x', '{"kind": ')
    expect(bad.status).toBe(400)
    expect(bad.body.error.code).toBe('INVALID_JSON')
    const unknown = await raw(agent.socket, 'GET', '/v1/nothing-here')
    expect(unknown.status).toBe(404)
    expect(unknown.body.error).toMatchObject({ code: 'ROUTE_NOT_FOUND' })
    const field = await raw(
      agent.socket,
      'PUT',
      '/v1/functions/x',
      JSON.stringify({ kind: 'nodejs:24', limits: { memory: 5 } }),
    )
    expect(field.status).toBe(400)
    expect(field.body.error.message).toContain("field 'limits.memory'")
    expect((await fnList()).map((f) => f.name)).toEqual(['hello'])
  })

  it('refuses a second agent on the same data dir', async () => {
    const second = await cli([
      'start',
      '--data-dir',
      agent.dataDir,
      '--no-cluster',
      '--socket',
      join(agent.dataDir, 'other.sock'),
    ])
    expect(second.code).toBe(1)
    expect(second.stderr).toContain(`another agent is using ${agent.dataDir}`)
    expect((await fnList()).map((f) => f.name)).toEqual(['hello'])
  })

  it('refuses an invalid config value naming the key, the value and what is allowed', async () => {
    const d = tempDir()
    cleanup.add(() => removeDir(d))
    writeFileSync(join(d, 'config.json'), JSON.stringify({ cluster: { heartbeatMs: 5 } }))
    const r = await cli(['start', '--data-dir', d, '--no-cluster'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/invalid config value for cluster.heartbeatMs: 5 \(.*100.*\)/)
    const env = await cli(['start', '--data-dir', d, '--no-cluster'], { env: { FNAGENT_LOG_LEVEL: 'loud' } })
    expect(env.stderr).toMatch(/invalid config value for logLevel: "loud"/)
  })

  it('says how to start an agent when none answers', async () => {
    const r = await cli(['--socket', join(dir, 'none.sock'), 'fn', 'list'])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe(
      `error: no agent answers on ${join(dir, 'none.sock')}; start one with 'fnagent start' (or pass --socket / --data-dir)`,
    )
  })
})

describe('the agent process', () => {
  it('keeps its API socket at mode 0660 and prints its effective config', async () => {
    expect(statSync(agent.socket).mode & 0o777).toBe(0o660)
    const r = await agent.cli(['config'])
    const config = JSON.parse(r.stdout)
    expect(config.dataDir).toBe(agent.dataDir)
    expect(config.store.maxCodeBytes).toBe(2048) // from FNAGENT_STORE_MAX_CODE_BYTES
    expect(config.cluster.heartbeatMs).toBe(1000)
  })
})
