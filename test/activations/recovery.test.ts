import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { Cleanup, removeContainersOf, removeDir, startAgent, tempDir } from '../helpers/agent-process.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run())

describe('an async activation whose node crashes mid-run', () => {
  it('runs again after the restart (at least once), and its record names the takeover', async () => {
    const dataDir = tempDir('fnagent-recovery-')
    cleanup.add(() => removeDir(dataDir))
    const args = ['--no-cluster']
    let agent = await startAgent({ dataDir, args })
    const first = agent
    cleanup.add(() => agent.stop())
    const file = join(dataDir, 'slow.js')
    writeFileSync(
      file,
      'function main(p) { return new Promise((r) => setTimeout(() => r({ done: true }), p.ms)) }\n',
    )
    expect((await agent.cli(['fn', 'create', 'slow', file, '--timeout', '120000'])).code).toBe(0)
    const nodeId = JSON.parse((await agent.cli(['--json', 'status'])).stdout).nodeId as string
    cleanup.add(() => removeContainersOf(nodeId))
    const invoked = await agent.cli(['--json', 'invoke', 'slow', '--async', '-p', 'ms', '3000'])
    expect(invoked.code, invoked.stderr).toBe(0)
    const { activationId } = JSON.parse(invoked.stdout) as { activationId: string }
    await waitFor(
      async () => JSON.parse((await agent.cli(['--json', 'status'])).stdout).invoker.inflight > 0,
      {
        what: 'the activation running',
        timeoutMs: 60_000,
      },
    )
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
      { what: 'the activation run again after the restart', timeoutMs: 60_000 },
    )
    expect(got.response.success).toBe(true)
    expect(got.node).toBe(nodeId)
    const takeover = got.annotations.find((a) => a.key === 'takeover')?.value as {
      from: string
      cause: string
    }
    expect(takeover.from).toBe(nodeId)
    expect(takeover.cause).toMatch(/the agent on node \S+ stopped/)
    // Two runs, the second forced by the crash: both processes logged one.
    const runs = (out: string) =>
      out.split('\n').filter((l) => l.includes('"activation runs"') && l.includes(activationId))
    expect(runs(first.output())).toHaveLength(1)
    expect(runs(agent.output())).toHaveLength(1)
    // Listed like any finished record.
    const list = JSON.parse((await agent.cli(['--json', 'activation', 'list'])).stdout) as ActivationRecord[]
    expect(list.map((r) => r.activationId)).toContain(activationId)
  })
})
