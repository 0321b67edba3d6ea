import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { Client } from '../../cli/client.ts'
import { Cleanup, removeContainersOf, removeDir, startAgent, tempDir } from '../helpers/agent-process.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run())

/** Every byte of the agent's LevelDB files, as text (the log file holds recent values as written). */
function storeBytes(dataDir: string): string {
  const dir = join(dataDir, 'db')
  return readdirSync(dir)
    .map((f) => {
      try {
        return readFileSync(join(dir, f)).toString('latin1')
      } catch {
        return ''
      }
    })
    .join('\n')
}

describe("a queued job's API key (provide-api-key)", () => {
  it('is stored with the job sealed, never in clear, and the run after a takeover has it', async () => {
    const dataDir = tempDir('fnagent-queued-key-')
    cleanup.add(() => removeDir(dataDir))
    const args = ['--no-cluster']
    let agent = await startAgent({ dataDir, args })
    cleanup.add(() => agent.stop())
    const file = join(dataDir, 'key.js')
    writeFileSync(
      file,
      'function main(p) { return new Promise((r) => setTimeout(() => r({ key: process.env.__OW_API_KEY || null }), p.ms)) }\n',
    )
    const created = await agent.cli([
      'fn',
      'create',
      'key',
      file,
      '--timeout',
      '120000',
      '-a',
      'provide-api-key',
      'true',
    ])
    expect(created.code, created.stderr).toBe(0)
    const nodeId = JSON.parse((await agent.cli(['--json', 'status'])).stdout).nodeId as string
    cleanup.add(() => removeContainersOf(nodeId))

    const apiKey = 'f0c1a2b3-0000-4000-8000-00000000beef:queuedKeySecretValue0123456789abcdefABCDEF'
    const r = await new Client(agent.socket).call<{ activationId: string }>(
      'POST',
      '/v1/functions/key/invoke',
      {
        params: { ms: 3000 },
        blocking: false,
        apiKey,
      },
    )
    expect(r.status).toBe(202)
    const { activationId } = r.body
    await waitFor(
      async () => JSON.parse((await agent.cli(['--json', 'status'])).stdout).invoker.inflight > 0,
      { what: 'the job running', timeoutMs: 60_000 },
    )
    // The marker (on disk, and on the wire to owners) carries the key sealed, never in clear.
    const bytes = storeBytes(dataDir)
    expect(bytes).toContain(activationId)
    expect(bytes).toContain('sealedKey')
    expect(bytes).not.toContain('queuedKeySecretValue')

    // The run is cut by a crash; the restarted agent takes the job over from its marker alone.
    await agent.kill9()
    agent = await startAgent({ dataDir, args })
    const got = await waitFor(
      async () => {
        const g = await agent.cli(['--json', 'activation', 'get', activationId])
        return g.code === 0 ? (JSON.parse(g.stdout) as ActivationRecord) : null
      },
      { what: 'the job run again after the restart', timeoutMs: 90_000 },
    )
    expect(got.annotations.find((a) => a.key === 'takeover')).toBeDefined()
    expect(got.response.success).toBe(true)
    expect(got.response.result).toEqual({ key: apiKey })
  }, 180_000)
})
