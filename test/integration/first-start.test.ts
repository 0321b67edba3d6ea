// The first start, as a new user tries it: `fnagent start` on a fresh data directory with no key
// and no peers starts a one-node cluster, creates its key and says where; with peers to join but no
// key, or with host isolation on and no way to install it, nothing starts (no socket, no store)
// and the error lists every reason. Logs are JSON lines when stdout is not a terminal.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { wantsPrettyLogs } from '../../agent/main.ts'
import { BIN, Cleanup, cli, NODE, removeDir, startAgent, tempDir } from '../helpers/agent-process.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run())

describe('first start', () => {
  it('no key and no peers: a one-node cluster, its key created in the data directory and logged', async () => {
    const dir = tempDir('fnagent-i14-first-')
    cleanup.add(() => removeDir(dir))
    const agent = await startAgent({
      dataDir: dir,
      args: ['--listen', '/ip4/127.0.0.1/tcp/0'],
      env: { FNAGENT_INVOKER_PREWARM: '[]' },
    })
    cleanup.add(() => agent.stop())
    const keyFile = join(dir, 'cluster.key')
    expect(readFileSync(keyFile, 'utf8')).toMatch(
      /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/,
    )
    const status = JSON.parse((await agent.cli(['--json', 'status'])).stdout)
    expect(status.cluster.members).toBe(1)
    // stdout is a pipe here: JSON lines, one of which says where the key is.
    const lines = agent
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
    expect(lines.length).toBeGreaterThan(0)
    const first = lines.map((l) => JSON.parse(l)).find((l) => l.keyFile === keyFile)
    expect(first?.msg).toMatch(/first start.*one-node cluster/)
    expect(await agent.stop()).toBe(0)
    // The second start reuses the key (no new cluster).
    const again = await startAgent({
      dataDir: dir,
      args: ['--listen', '/ip4/127.0.0.1/tcp/0'],
      env: { FNAGENT_INVOKER_PREWARM: '[]' },
    })
    cleanup.add(() => again.stop())
    expect(again.output()).not.toMatch(/first start/)
    expect(await again.stop()).toBe(0)
  }, 120_000)

  it('peers to join but no key: nothing starts, and the error says what to copy where', async () => {
    const dir = tempDir('fnagent-i14-nokey-')
    cleanup.add(() => removeDir(dir))
    const r = await cli([
      'start',
      '--data-dir',
      dir,
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--bootstrap',
      '127.0.0.1:9',
    ])
    expect(r.code).toBe(78)
    expect(r.stderr).toMatch(/START_PRECONDITION/)
    expect(r.stderr).toMatch(
      new RegExp(`no cluster key at ${join(dir, 'cluster.key')}.*peers to join: 127\\.0\\.0\\.1:9`),
    )
    expect(existsSync(join(dir, 'cluster.key'))).toBe(false)
    expect(existsSync(join(dir, 'fnagent.sock'))).toBe(false)
    // Not even the store or the node identity: preflight runs before anything.
    expect(existsSync(join(dir, 'identity.key'))).toBe(false)
  }, 60_000)

  it('host isolation on but not installable (no privilege): the agent refuses to start and says why', async () => {
    const dir = tempDir('fnagent-i14-noiso-')
    cleanup.add(() => removeDir(dir))
    // A process with no capabilities cannot touch iptables; the rules are for a bridge no `fnagent
    // isolate` ever stamped (its own network name). It keeps its uid (root in CI), so it can still
    // read a checkout that only root may enter; only the privilege is gone.
    const { execFile } = await import('node:child_process')
    const r = await new Promise<{ code: number; stderr: string }>((done) => {
      execFile(
        'setpriv',
        [
          '--inh-caps=-all',
          '--ambient-caps=-all',
          '--bounding-set=-all',
          NODE,
          BIN,
          'start',
          '--data-dir',
          dir,
          '--no-cluster',
        ],
        {
          env: { ...process.env, HOME: dir, FNAGENT_INVOKER_NETWORK: `i14-noiso-${process.pid}` },
          timeout: 60_000,
        },
        (err, _stdout, stderr) => done({ code: err ? Number(err.code) : 0, stderr }),
      )
    })
    expect(r.code).toBe(78)
    expect(r.stderr).toMatch(/START_PRECONDITION/)
    expect(r.stderr).toMatch(/cannot install the host isolation rules for bridge fna-[0-9a-f]{10}/)
    expect(r.stderr).toMatch(/fnagent isolate/)
    expect(existsSync(join(dir, 'fnagent.sock'))).toBe(false)
  }, 60_000)

  it('logs: pretty on a terminal, JSON under systemd (JOURNAL_STREAM) or without a terminal', () => {
    expect(wantsPrettyLogs({}, true)).toBe(true)
    expect(wantsPrettyLogs({ JOURNAL_STREAM: '8:12345' }, true)).toBe(false)
    expect(wantsPrettyLogs({ INVOCATION_ID: 'abc' }, true)).toBe(false)
    expect(wantsPrettyLogs({}, false)).toBe(false)
  })
})
