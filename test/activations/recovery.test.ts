import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { Cleanup, removeContainersOf, removeDir, startAgent, tempDir } from '../helpers/agent-process.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run())

describe('an async activation whose node crashes mid-run', () => {
  it('resolves to a whisk internal error naming the node and the cause, never 404', async () => {
    const dataDir = tempDir('fnagent-recovery-')
    cleanup.add(() => removeDir(dataDir))
    const args = ['--no-cluster']
    let agent = await startAgent({ dataDir, args })
    cleanup.add(() => agent.stop())
    const file = join(dataDir, 'slow.js')
    writeFileSync(
      file,
      'function main() { return new Promise((r) => setTimeout(() => r({ done: true }), 60000)) }\n',
    )
    expect((await agent.cli(['fn', 'create', 'slow', file, '--timeout', '120000'])).code).toBe(0)
    const nodeId = JSON.parse((await agent.cli(['--json', 'status'])).stdout).nodeId as string
    cleanup.add(() => removeContainersOf(nodeId))
    const invoked = await agent.cli(['--json', 'invoke', 'slow', '--async'])
    expect(invoked.code, invoked.stderr).toBe(0)
    const { activationId } = JSON.parse(invoked.stdout) as { activationId: string }
    // While it runs, the id is "still running" (OpenWhisk answers 404 until the record exists).
    const running = await agent.cli(['activation', 'get', activationId])
    expect(running.stderr).toContain('still running')

    await agent.kill9()
    agent = await startAgent({ dataDir, args })
    const got = await waitFor(
      async () => {
        const r = await agent.cli(['--json', 'activation', 'get', activationId])
        return r.code === 0 ? (JSON.parse(r.stdout) as ActivationRecord) : null
      },
      { what: 'the activation resolved after the restart', timeoutMs: 30_000 },
    )
    expect(got.response.status).toBe('whisk internal error')
    expect(got.node).toBe(nodeId)
    expect(JSON.stringify(got.response.result)).toMatch(/activation lost: the agent on node \S+ stopped/)
    expect(got.phase).toBe('lost')
    // Listed like any finished record.
    const list = JSON.parse((await agent.cli(['--json', 'activation', 'list'])).stdout) as ActivationRecord[]
    expect(list.map((r) => r.activationId)).toContain(activationId)
  })
})
