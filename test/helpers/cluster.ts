import { join } from 'node:path'
import type { MemberView } from '../../agent/cluster/index.ts'
import { type AgentHandle, type Cleanup, cli, removeDir, startAgent, tempDir } from './agent-process.ts'
import { waitFor } from './wait-for.ts'

export interface LocalCluster {
  root: string
  keyFile: string
  agents: AgentHandle[]
  /** Starts one more agent with the cluster key (and extra args); it is not joined yet. */
  add: (name: string, args?: string[], env?: NodeJS.ProcessEnv) => Promise<AgentHandle>
}

/** A cluster key and `n` agent processes on 127.0.0.1, each joined to the first. */
export async function createCluster(
  n: number,
  cleanup: Cleanup,
  opts: { env?: NodeJS.ProcessEnv; args?: string[] } = {},
): Promise<LocalCluster> {
  const root = tempDir('fnagent-cluster-')
  cleanup.add(() => removeDir(root))
  const keyFile = join(root, 'cluster.key')
  const init = await cli(['cluster', 'init', '--key-file', keyFile])
  if (init.code !== 0) throw new Error(init.stderr)
  const agents: AgentHandle[] = []
  const add = async (name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) => {
    const agent = await startAgent({
      dataDir: join(root, name),
      args: ['--cluster-key', keyFile, '--listen', '/ip4/127.0.0.1/tcp/0', ...(opts.args ?? []), ...args],
      env: { ...opts.env, ...env },
    })
    cleanup.add(() => agent.stop())
    return agent
  }
  for (let i = 0; i < n; i++) agents.push(await add(`n${i}`))
  const first = agents[0]
  if (first) {
    const addr = await addressOf(first)
    for (const a of agents.slice(1)) {
      const r = await a.cli(['join', addr])
      if (r.code !== 0) throw new Error(`join failed: ${r.stderr}`)
    }
    await waitAllAlive(agents, n)
  }
  return { root, keyFile, agents, add }
}

export async function addressOf(agent: AgentHandle): Promise<string> {
  const r = await agent.cli(['--json', 'status'])
  return JSON.parse(r.stdout).cluster.addresses[0] as string
}

export async function nodeIdOf(agent: AgentHandle): Promise<string> {
  const r = await agent.cli(['--json', 'status'])
  return JSON.parse(r.stdout).nodeId as string
}

export async function peersOf(agent: AgentHandle): Promise<MemberView[]> {
  const r = await agent.cli(['--json', 'peers'])
  if (r.code !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout) as MemberView[]
}

/** Waits until every agent sees `n` alive members. */
export async function waitAllAlive(agents: AgentHandle[], n: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    async () => {
      for (const a of agents) {
        const view = await peersOf(a)
        if (view.filter((m) => m.state === 'alive').length !== n) return false
      }
      return true
    },
    { what: `${agents.length} agents to see ${n} alive members`, timeoutMs: timeoutMs, everyMs: 250 },
  )
}

/** Waits until every agent knows the function (its metadata replicates to all). */
export async function waitDeployed(name: string, agents: AgentHandle[], timeoutMs = 30_000): Promise<void> {
  for (const a of agents) {
    await waitFor(async () => (await a.cli(['fn', 'get', name])).code === 0, {
      what: `${name} on every node`,
      timeoutMs,
      everyMs: 200,
    })
  }
}
