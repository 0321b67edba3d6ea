import { createServer, type Server } from 'node:net'
import { networkInterfaces } from 'node:os'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureRuntimes } from '../../runtimes/build/index.ts'
import { type AgentHandle, Cleanup, cli, removeDir, startAgent, tempDir } from '../helpers/agent-process.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { owFetch } from './helpers.ts'

// An action calling the platform: a real agent (cluster port on 0.0.0.0, host isolation on, as
// root installs it), a real container with the `openwhisk` npm client of the Node runtime image.
// The container reaches the OpenWhisk API of its own node on the functions' bridge and nothing
// else of the host: not the cluster port, not a host service (an sshd stand-in on 0.0.0.0), not the
// metadata address. Each refusal must be the isolation's TCP reset (ECONNREFUSED), not a timeout.
const cleanup = new Cleanup()
let agent: AgentHandle
let apihost: string
let key: string
let sshLike: Server

const CALLER = `const openwhisk = require('openwhisk')
const net = require('node:net')
const probe = (host, port) => new Promise((resolve) => {
  const s = net.connect({ host, port, timeout: 5000 })
  s.on('connect', () => { s.destroy(); resolve('connected') })
  s.on('error', (e) => resolve(e.code))
  s.on('timeout', () => { s.destroy(); resolve('timeout') })
})
async function main(p) {
  const ow = openwhisk()
  const answer = await ow.actions.invoke({ name: p.target, params: { v: p.v }, blocking: true, result: true })
  const gateway = new URL(process.env.__OW_API_HOST).hostname
  const probes = { api: await probe(gateway, Number(new URL(process.env.__OW_API_HOST).port)) }
  for (const [what, host, port] of p.probes) probes[what] = await probe(host === 'gateway' ? gateway : host, port)
  return { apiHost: process.env.__OW_API_HOST, hasKey: Boolean(process.env.__OW_API_KEY), answer, probes }
}`

beforeAll(async () => {
  // The image tag is shared by every checkout on this host: make sure it is this tree's (with the
  // client) right before the agent starts, not only at the run's global setup.
  await ensureRuntimes(new Dockerode(), { kinds: ['nodejs:24'] })
  const dir = tempDir('fnagent-i21-calls-')
  cleanup.add(() => removeDir(dir))
  const keyFile = join(dir, 'cluster.key')
  const init = await cli(['cluster', 'init', '--key-file', keyFile])
  if (init.code !== 0) throw new Error(init.stderr)
  agent = await startAgent({
    dataDir: join(dir, 'agent'),
    args: ['--cluster-key', keyFile, '--listen', '/ip4/0.0.0.0/tcp/0', '--api-listen', '127.0.0.1:0'],
  })
  cleanup.add(() => agent.stop())
  apihost = await waitFor(
    () =>
      /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"OpenWhisk API listening"/.exec(agent.output())?.[1] ?? '',
    { what: 'the OpenWhisk API listener', timeoutMs: 30_000 },
  )
  const created = await agent.cli(['auth', 'create'])
  if (created.code !== 0) throw new Error(created.stderr)
  key = created.stdout.trim()
  sshLike = createServer((s) => s.end('SSH-2.0-stand-in\r\n'))
  await new Promise<void>((r) => sshLike.listen(0, '0.0.0.0', r))
  cleanup.add(() => new Promise<void>((r) => sshLike.close(() => r())))
}, 180_000)
afterAll(() => cleanup.run())

const put = (name: string, body: unknown) =>
  owFetch(apihost, key, 'PUT', `/api/v1/namespaces/_/actions/${name}?overwrite=true`, body)

describe('actions that call the platform', () => {
  it('invoke another action with the openwhisk client through __OW_API_HOST, and reach nothing else of the host', async () => {
    const status = JSON.parse((await agent.cli(['--json', 'status'])).stdout) as {
      cluster: { addresses: string[] }
    }
    const clusterPort = Number(/\/tcp\/(\d+)/.exec(status.cluster.addresses[0]!)![1])
    const sshPort = (sshLike.address() as { port: number }).port
    // The host's own address on its main interface, besides the bridge's.
    const hostAddress = Object.entries(networkInterfaces())
      .filter(([name]) => !name.startsWith('lo') && !name.startsWith('docker') && !name.startsWith('fna-'))
      .flatMap(([, list]) => list ?? [])
      .find((a) => a.family === 'IPv4' && !a.internal)?.address
    const probes: Array<[string, string, number]> = [
      ['cluster', 'gateway', clusterPort],
      ['ssh', 'gateway', sshPort],
      ['metadata', '169.254.169.254', 80],
      ...(hostAddress ? [['sshOnHostAddress', hostAddress, sshPort] as [string, string, number]] : []),
    ]

    const target = await put('twice', {
      exec: { kind: 'python:3', code: "def main(args):\n    return {'twice': args['v'] * 2}\n" },
    })
    expect(target.status).toBe(200)
    const caller = await put('caller', {
      exec: { kind: 'nodejs:default', code: CALLER },
      annotations: [{ key: 'provide-api-key', value: true }],
    })
    expect(caller.status).toBe(200)
    const r = await owFetch(
      apihost,
      key,
      'POST',
      '/api/v1/namespaces/_/actions/caller?blocking=true&result=true',
      {
        target: 'twice',
        v: 21,
        probes,
      },
    )
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    const out = r.body as {
      apiHost: string
      hasKey: boolean
      answer: unknown
      probes: Record<string, string>
    }
    expect(out.hasKey).toBe(true)
    expect(out.apiHost).toMatch(/^http:\/\/\d+\.\d+\.\d+\.\d+:\d+$/)
    expect(out.answer).toEqual({ twice: 42 })
    expect(out.probes.api).toBe('connected')
    expect(out.probes.cluster).toBe('ECONNREFUSED')
    expect(out.probes.ssh).toBe('ECONNREFUSED')
    expect(out.probes.metadata).toBe('ECONNREFUSED')
    if (hostAddress) expect(out.probes.sshOnHostAddress).toBe('ECONNREFUSED')
  })

  it('an action without provide-api-key gets the API host but no key', async () => {
    const code =
      'function main() { return { host: process.env.__OW_API_HOST || null, key: process.env.__OW_API_KEY || null } }'
    expect((await put('plain', { exec: { kind: 'nodejs:default', code } })).status).toBe(200)
    const r = await owFetch(
      apihost,
      key,
      'POST',
      '/api/v1/namespaces/_/actions/plain?blocking=true&result=true',
      {},
    )
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ key: null, host: expect.stringMatching(/^http:\/\//) })
  })
})
