// The first start, as a new user tries it: `fnagent start` on a fresh data directory with no key
// and no peers starts a one-node cluster, creates its key and says where; with peers to join but no
// key, or with host isolation on and no way to install it, nothing starts (no socket, no store)
// and the error lists every reason. Logs are JSON lines when stdout is not a terminal.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { endpointRule } from '../../agent/invoker/isolation.ts'
import { wantsPrettyLogs } from '../../agent/main.ts'
import { BIN, Cleanup, cli, NODE, removeDir, startAgent, tempDir } from '../helpers/agent-process.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cleanup = new Cleanup()
/** `setpriv` options that start a process with no capability at all (it keeps its uid). */
const NO_CAPABILITIES = ['--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all']
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
        [...NO_CAPABILITIES, NODE, BIN, 'start', '--data-dir', dir, '--no-cluster'],
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

  it('as the systemd unit runs it (isolate as root, then an agent without privileges): actions still get __OW_API_HOST and reach the API', async () => {
    const dir = tempDir('fnagent-i21-unit-')
    cleanup.add(() => removeDir(dir))
    const network = `i21-unit-${process.pid}`
    const { createServer } = await import('node:net')
    const bridgePort = await new Promise<number>((done) => {
      const srv = createServer().listen(0, () => {
        const { port } = srv.address() as { port: number }
        srv.close(() => done(port))
      })
    })
    const config = join(dir, 'unit.json')
    writeFileSync(
      config,
      JSON.stringify({
        invoker: { network },
        cluster: { enabled: false },
        openwhiskApi: { listen: '127.0.0.1:0', bridgePort },
      }),
    )
    // ExecStartPre=+: as root, the isolation rules and the one opening for the API endpoint.
    const isolated = await cli(['--data-dir', dir, 'isolate', '--config', config])
    expect(isolated.code, isolated.stderr).toBe(0)
    const opened = /open to functions at ([\d.]+):(\d+)/.exec(isolated.stdout)
    expect(opened?.[2]).toBe(String(bridgePort))
    const gateway = opened![1]!
    const bridge = /bridge (fna-[0-9a-f]{10})/.exec(isolated.stdout)![1]!
    cleanup.add(async () => {
      const { execFile } = await import('node:child_process')
      const rule = endpointRule(bridge, gateway, bridgePort)
      await new Promise((done) => execFile(rule.tool, ['-w', '5', '-D', rule.chain, ...rule.args], done))
      removeDir(`/run/fnagent-isolation/${bridge}.endpoint.json`)
    })
    // ExecStart: the agent with no capabilities at all (it keeps its uid: see the test above).
    const { spawn } = await import('node:child_process')
    const agent = spawn(
      'setpriv',
      [...NO_CAPABILITIES, NODE, BIN, 'start', '--data-dir', dir, '--config', config],
      { env: { ...process.env, HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    agent.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    agent.stderr.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const exited = new Promise((done) => agent.once('exit', done))
    cleanup.add(async () => {
      agent.kill('SIGTERM')
      await exited
    })
    const sock = ['--socket', join(dir, 'fnagent.sock')]
    await waitFor(
      async () => {
        if (agent.exitCode !== null) throw new Error(`agent exited with ${agent.exitCode}:\n${out}`)
        return /OpenWhisk API listening for function containers/.test(out)
      },
      { what: 'the API endpoint on the functions bridge', timeoutMs: 60_000 },
    )
    writeFileSync(
      join(dir, 'caller.js'),
      `async function main() {
        const host = process.env.__OW_API_HOST
        const r = await fetch(host + '/api/v1/namespaces')
        return { host, status: r.status }
      }`,
    )
    expect((await cli([...sock, 'fn', 'create', 'caller', join(dir, 'caller.js')])).code).toBe(0)
    const r = await cli([...sock, 'invoke', 'caller', '--result'])
    expect(r.code, r.stderr + out.slice(-2000)).toBe(0)
    // It reaches the API (401: it sent no key), at the endpoint isolate opened.
    expect(JSON.parse(r.stdout)).toEqual({ host: `http://${gateway}:${bridgePort}`, status: 401 })
  }, 180_000)

  it('logs: pretty on a terminal, JSON under systemd (JOURNAL_STREAM) or without a terminal', () => {
    expect(wantsPrettyLogs({}, true)).toBe(true)
    expect(wantsPrettyLogs({ JOURNAL_STREAM: '8:12345' }, true)).toBe(false)
    expect(wantsPrettyLogs({ INVOCATION_ID: 'abc' }, true)).toBe(false)
    expect(wantsPrettyLogs({}, false)).toBe(false)
  })
})
