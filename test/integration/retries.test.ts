import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import {
  type AgentHandle,
  Cleanup,
  removeContainersOf,
  removeDir,
  startAgent,
  tempDir,
} from '../helpers/agent-process.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cleanup = new Cleanup()
let agent: AgentHandle
let dir: string

/** One 256 MiB slot and no prewarmed container: a second job waits in the queue. Callbacks retried fast. */
const ONE_SLOT = {
  FNAGENT_INVOKER_MEMORY_BUDGET_MIB: '256',
  FNAGENT_INVOKER_PREWARM: '[]',
  FNAGENT_QUEUE_CALLBACK_BACKOFF_MS: '200',
  FNAGENT_QUEUE_CALLBACK_MAX_BACKOFF_MS: '1000',
  FNAGENT_QUEUE_CALLBACK_ATTEMPTS: '60',
}

const annotation = (r: ActivationRecord, key: string) => r.annotations.find((a) => a.key === key)?.value

async function deploy(name: string, source: string, extra: string[] = [], mode = 'create'): Promise<void> {
  const file = join(dir, `${name}-${mode}.js`)
  writeFileSync(file, source)
  const r = await agent.cli(['fn', mode, name, file, ...extra])
  expect(r.code, r.stderr).toBe(0)
}

async function invokeAsync(name: string, extra: string[] = []): Promise<string> {
  const r = await agent.cli(['--json', 'invoke', name, '--async', ...extra])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { activationId: string }).activationId
}

/** The delivery a record names once its callback is done (annotation `callback`). */
async function delivered(id: string): Promise<{ delivered: boolean; attempts: number }> {
  return waitFor(
    async () =>
      annotation(await record(id), 'callback') as { delivered: boolean; attempts: number } | undefined,
    { what: `the callback delivery of ${id} recorded`, timeoutMs: 30_000, everyMs: 250 },
  )
}

async function record(id: string): Promise<ActivationRecord> {
  return waitFor(
    async () => {
      const r = await agent.cli(['--json', 'activation', 'get', id])
      return r.code === 0 ? (JSON.parse(r.stdout) as ActivationRecord) : null
    },
    { what: `the record of ${id}`, timeoutMs: 60_000, everyMs: 250 },
  )
}

beforeAll(async () => {
  dir = tempDir('fnagent-retries-')
  cleanup.add(() => removeDir(dir))
  agent = await startAgent({ dataDir: join(dir, 'agent'), args: ['--no-cluster'], env: ONE_SLOT })
  cleanup.add(() => agent.stop())
  const nodeId = JSON.parse((await agent.cli(['--json', 'status'])).stdout).nodeId as string
  cleanup.add(() => removeContainersOf(nodeId))
}, 120_000)
afterAll(() => cleanup.run())

describe('retries and dead letters of queued jobs', () => {
  it('a function that fails twice then succeeds, with maxRetries 3: one success, two failed attempts recorded', async () => {
    // The warm container keeps its count across attempts (one slot: the same container runs each).
    await deploy(
      'flaky',
      'let n = 0\nfunction main() { n++; return n <= 2 ? { error: "failure " + n } : { ok: n } }\n',
      ['-a', 'maxRetries', '3', '-a', 'retryBackoffMs', '200'],
    )
    const id = await invokeAsync('flaky')
    const rec = await record(id)
    expect(rec.response.success).toBe(true)
    expect(rec.response.result).toEqual({ ok: 3 })
    const attempts = annotation(rec, 'attempts') as Array<{
      activationId: string
      status: string
      attempt: number
    }>
    expect(attempts.map((a) => [a.attempt, a.status])).toEqual([
      [1, 'application error'],
      [2, 'application error'],
      [3, 'success'],
    ])
    expect(annotation(rec, 'deadLetter')).toBeUndefined()
    // Each attempt is a record of its own, naming the job.
    for (const a of attempts.slice(0, 2)) {
      const attempt = await record(a.activationId)
      expect(attempt.response.status).toBe('application error')
      expect(annotation(attempt, 'attemptOf')).toBe(id)
    }
  })

  it('one that always fails ends in the dead-letter list, and replays from it', async () => {
    await deploy('doomed', 'function main() { return { error: "always" } }\n', [
      '-a',
      'maxRetries',
      '1',
      '-a',
      'retryBackoffMs',
      '200',
    ])
    const id = await invokeAsync('doomed')
    const rec = await record(id)
    expect(rec.response.status).toBe('application error')
    expect((annotation(rec, 'attempts') as unknown[]).length).toBe(2)
    const dead = async () =>
      (
        JSON.parse((await agent.cli(['--json', 'activation', 'list', '--dead'])).stdout) as ActivationRecord[]
      ).map((r) => r.activationId)
    expect(await dead()).toContain(id)
    expect(JSON.parse((await agent.cli(['--json', 'queue'])).stdout).deadLetters).toBeGreaterThanOrEqual(1)

    // Fixed, then replayed: a new job of the current version, and the dead letter leaves the list.
    await deploy('doomed', 'function main() { return { fixed: true } }\n', [], 'update')
    const replay = await agent.cli(['--json', 'activation', 'replay', id])
    expect(replay.code, replay.stderr).toBe(0)
    const again = (JSON.parse(replay.stdout) as { activationId: string }).activationId
    expect(again).not.toBe(id)
    expect((await record(again)).response.result).toEqual({ fixed: true })
    expect(await dead()).not.toContain(id)
    expect(annotation(await record(id), 'replayed')).toMatchObject({ as: again })
  })

  it('activation get and fnagent queue show a job waiting behind a running one', async () => {
    await deploy(
      'hold',
      'function main() { return new Promise((r) => setTimeout(() => r({ held: true }), 4000)) }\n',
    )
    const first = await invokeAsync('hold')
    const second = await invokeAsync('hold')
    const got = await agent.cli(['activation', 'get', second])
    expect(got.code).not.toBe(0)
    expect(got.stderr).toMatch(
      /still running: queued on node \S+, priority 0, waited \d+ ms, 0 attempts done/,
    )
    const q = JSON.parse((await agent.cli(['--json', 'queue'])).stdout) as {
      waiting: number[]
      running: number
    }
    expect(q.waiting[0]).toBeGreaterThanOrEqual(1)
    expect(q.running).toBeGreaterThanOrEqual(1)
    for (const id of [first, second]) expect((await record(id)).response.success).toBe(true)
  })
  it('POSTs every record to its callback URL, retried through an outage of the receiver, and records the delivery', async () => {
    await deploy('notify', 'function main(p) { return { n: p.n } }\n')
    const received: ActivationRecord[] = []
    const listen = (port = 0) =>
      new Promise<Server>((resolve) => {
        const server = createServer((req, res) => {
          const chunks: Buffer[] = []
          req.on('data', (c: Buffer) => chunks.push(c))
          req.on('end', () => {
            received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ActivationRecord)
            res.writeHead(204).end()
          })
        })
        server.listen(port, '127.0.0.1', () => resolve(server))
      })
    let server = await listen()
    const port = (server.address() as AddressInfo).port
    const url = `http://127.0.0.1:${port}/done`
    const ids = [] as string[]
    for (let n = 0; n < 3; n++)
      ids.push(await invokeAsync('notify', ['-p', 'n', String(n), '--callback', url]))
    await waitFor(() => ids.every((id) => received.some((r) => r.activationId === id)), {
      what: 'three callbacks',
      timeoutMs: 60_000,
    })
    for (const id of ids) expect((await delivered(id)).delivered).toBe(true)

    // The receiver goes down; a job finishes meanwhile; its callback fails, and lands once it is back.
    await new Promise((r) => server.close(r))
    const late = await invokeAsync('notify', ['-p', 'n', '9', '--callback', url])
    await waitFor(() => agent.output().includes('"callback not delivered yet"'), {
      what: 'a failed callback attempt during the outage',
      timeoutMs: 60_000,
    })
    server = await listen(port)
    cleanup.add(() => new Promise((r) => server.close(r)))
    const got = await waitFor(() => received.find((r) => r.activationId === late), {
      what: 'the callback after the outage',
      timeoutMs: 60_000,
    })
    expect(got.response.result).toEqual({ n: 9 })
    const delivery = await delivered(late)
    expect(delivery.delivered).toBe(true)
    expect(delivery.attempts).toBeGreaterThanOrEqual(2)
  })
})
