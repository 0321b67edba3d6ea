import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { removeContainersOf } from '../helpers/agent-process.ts'
import { Cleanup, owFetch, startApiAgent } from './helpers.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run())

describe('the queue bound', () => {
  it('answers 429 with Retry-After past queue.maxJobs, before anything is stored', async () => {
    const { agent, apihost, newKey } = await startApiAgent(cleanup, {
      env: {
        FNAGENT_QUEUE_MAX_JOBS: '2',
        FNAGENT_QUEUE_RETRY_AFTER_S: '7',
        FNAGENT_INVOKER_MEMORY_BUDGET_MIB: '256',
        FNAGENT_INVOKER_PREWARM: '[]',
      },
    })
    const nodeId = JSON.parse((await agent.cli(['--json', 'status'])).stdout).nodeId as string
    cleanup.add(() => removeContainersOf(nodeId))
    const file = join(agent.dataDir, 'wait.js')
    writeFileSync(file, 'function main() { return { ok: true } }\n')
    // 512 MiB on a 256 MiB node: no run can start, so the accepted jobs stay queued (backpressure).
    expect((await agent.cli(['fn', 'create', 'wait', file, '--memory', '512'])).code).toBe(0)
    const auth = await newKey()
    const path = '/api/v1/namespaces/_/actions/wait?blocking=false'
    const stored = async () =>
      JSON.parse((await agent.cli(['--json', 'status'])).stdout).activations.stored as number

    const accepted = [
      await owFetch(apihost, auth, 'POST', path, {}),
      await owFetch(apihost, auth, 'POST', path, {}),
    ]
    expect(accepted.map((r) => r.status)).toEqual([202, 202])
    const before = await stored()
    const over = await owFetch(apihost, auth, 'POST', path, {})
    expect(over.status).toBe(429)
    expect(over.headers.get('retry-after')).toBe('7')
    // The local API and the CLI say the same, with the code.
    const cli = await agent.cli(['invoke', 'wait', '--async'])
    expect(cli.code).not.toBe(0)
    expect(cli.stderr).toContain('QUEUE_FULL')
    expect(await stored()).toBe(before)

    // The two accepted are still queued, waiting for room.
    for (const r of accepted) {
      const got = await agent.cli(['activation', 'get', (r.body as { activationId: string }).activationId])
      expect(got.stderr).toMatch(/still running: queued/)
    }
  })
})
