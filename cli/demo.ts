/**
 * `npm run demo`: a local cluster of three agents (separate processes on loopback ports), joined
 * into one cluster, with a sample OpenWhisk-style function deployed on one node and invoked from
 * another. Runtime images are built first when missing (offline, debootstrap + docker import).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { ensureRuntimes } from '../runtimes/build/index.ts'
import { type AgentHandle, cli, removeDir, startAgent, tempDir } from '../test/helpers/agent-process.ts'
import { waitFor } from '../test/helpers/wait-for.ts'

const say = (s: string) => process.stdout.write(`\n\x1b[1m== ${s}\x1b[0m\n`)
const show = (r: { stdout: string; stderr: string; code: number }) => {
  process.stdout.write(r.stdout)
  if (r.code !== 0) {
    process.stdout.write(r.stderr)
    throw new Error(`command failed (${r.code})`)
  }
}

const root = tempDir('fnagent-demo-')
const agents: AgentHandle[] = []
try {
  say('runtime images (built once, offline; cached afterwards)')
  const built = await ensureRuntimes(new Dockerode(), {
    onProgress: (p) => process.stdout.write(`  ${p.kind}: ${p.step}${p.message ? ` — ${p.message}` : ''}\n`),
  })
  for (const b of built) process.stdout.write(`  ${b.image} ${b.cached ? '(cached)' : '(built)'}\n`)

  say('a cluster key for a new cluster: fnagent cluster init')
  const key = join(root, 'cluster.key')
  show(await cli(['cluster', 'init', '--key-file', key]))

  say('three agents: fnagent start (separate processes, 127.0.0.1, own data dirs)')
  for (const name of ['a', 'b', 'c']) {
    const agent = await startAgent({
      dataDir: join(root, name),
      args: ['--cluster-key', key, '--listen', '/ip4/127.0.0.1/tcp/0'],
      env: { FNAGENT_LOG_LEVEL: 'warn' },
    })
    agents.push(agent)
    const status = JSON.parse((await agent.cli(['--json', 'status'])).stdout)
    process.stdout.write(`  node ${name}: ${status.nodeId} on ${status.cluster.addresses[0]}\n`)
  }
  const [a, b, c] = agents as [AgentHandle, AgentHandle, AgentHandle]
  const addrA = JSON.parse((await a.cli(['--json', 'status'])).stdout).cluster.addresses[0] as string

  say('b and c join a: fnagent join <a>')
  show(await b.cli(['join', addrA]))
  show(await c.cli(['join', addrA]))
  await waitFor(
    async () => {
      for (const agent of agents) {
        const view = JSON.parse((await agent.cli(['--json', 'peers'])).stdout) as Array<{ state: string }>
        if (view.filter((m) => m.state === 'alive').length < 3) return false
      }
      return true
    },
    { what: 'every node to see three alive members', timeoutMs: 30_000, everyMs: 250 },
  )

  say('what node a sees: fnagent peers')
  show(await a.cli(['peers']))

  say('deploy on node a: fnagent fn create hello hello.js')
  const file = join(root, 'hello.js')
  writeFileSync(
    file,
    "function main(params) {\n  console.log('greeting', params.name)\n  return { payload: 'Hello, ' + params.name }\n}\n",
  )
  show(await a.cli(['fn', 'create', 'hello', file]))
  show(await a.cli(['fn', 'get', 'hello']))

  await waitFor(async () => (await c.cli(['fn', 'get', 'hello'])).code === 0, {
    what: 'hello replicated to c',
    timeoutMs: 30_000,
    everyMs: 200,
  })

  say('invoke from node c: fnagent invoke hello -p name Niko --result')
  show(await c.cli(['invoke', 'hello', '-p', 'name', 'Niko', '--result']))
  say('again, warm this time: fnagent invoke hello -p name again')
  show(await c.cli(['invoke', 'hello', '-p', 'name', 'again']))

  say('the records, merged from every node: fnagent activation list --cluster')
  show(await b.cli(['activation', 'list', '--cluster']))
  const last = JSON.parse((await c.cli(['--json', 'activation', 'list', '--limit', '1'])).stdout)[0]
  say(`where it ran and why, read on node b: fnagent activation get ${last.activationId}`)
  const rec = JSON.parse((await b.cli(['--json', 'activation', 'get', last.activationId])).stdout)
  process.stdout.write(
    `  ran on ${rec.node} (${rec.cold ? 'cold' : 'warm'}), ${JSON.stringify(rec.annotations.find((x: { key: string }) => x.key === 'placement')?.value)}\n  logs: ${JSON.stringify(rec.logs)}\n`,
  )
} finally {
  for (const agent of agents.reverse()) await agent.stop()
  removeDir(root)
}
