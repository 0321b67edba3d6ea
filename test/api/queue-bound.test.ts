import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { removeContainersOf } from '../helpers/agent-process.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { Cleanup, owFetch, startApiAgent } from './helpers.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run())

describe('the queue bound', () => {
  it('answers 429 with Retry-After past queue.maxJobs, before anything is stored, then takes work again', async () => {
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
    writeFileSync(
      file,
      'function main() { return new Promise((r) => setTimeout(() => r({ ok: true }), 1500)) }\n',
    )
    expect((await agent.cli(['fn', 'create', 'wait', file])).code).toBe(0)
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

    // Once the two have run, the queue takes work again.
    const ids = accepted.map((r) => (r.body as { activationId: string }).activationId)
    for (const id of ids) {
      await waitFor(async () => (await agent.cli(['activation', 'get', id])).code === 0, {
        what: `activation ${id} finished`,
        timeoutMs: 60_000,
      })
    }
    expect((await owFetch(apihost, auth, 'POST', path, {})).status).toBe(202)
  })
})
