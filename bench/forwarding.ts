import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Agent as HttpAgent } from 'node:http'
import { join } from 'node:path'
import { CLUSTER_DEFAULTS, RpcChannels, readClusterKey } from '../agent/cluster/index.ts'
import { FORWARD_PROTOCOL, type ForwardRequest, forwardResponseSchema } from '../agent/placement/messages.ts'
import type { ActivationRecord, FunctionRecord } from '../agent/store/types.ts'
import { createCluster as createMembers } from '../test/cluster/fixtures/create-cluster.ts'
import { type AgentHandle, Cleanup } from '../test/helpers/agent-process.ts'
import { addressOf, createCluster, nodeIdOf } from '../test/helpers/cluster.ts'
import { waitFor } from '../test/helpers/wait-for.ts'
import { socketCall } from './local-api.ts'
import { round, summarize } from './stats.ts'

async function deploy(agents: AgentHandle[], root: string, name: string, source: string): Promise<void> {
  const file = join(root, `${name}.js`)
  writeFileSync(file, source)
  const r = await agents[0]!.cli(['fn', 'create', name, file])
  if (r.code !== 0) throw new Error(r.stderr)
  for (const a of agents)
    await waitFor(async () => (await a.cli(['fn', 'get', name])).code === 0, {
      what: `${name} everywhere`,
      timeoutMs: 30_000,
    })
}

/** Forwarded warm invoke vs local warm invoke, in the same run, over keep-alive socket clients. */
async function latency(n: number): Promise<Record<string, unknown>> {
  const cleanup = new Cleanup()
  try {
    const c = await createCluster(2, cleanup, { env: { FNAGENT_LOG_LEVEL: 'warn' } })
    await deploy(c.agents, c.root, 'hello', "function main(p) { return { payload: 'Hello, ' + p.name } }\n")
    const http = c.agents.map(() => new HttpAgent({ keepAlive: true, maxSockets: 1 }))
    const call = (i: number) =>
      socketCall(c.agents[i]!.socket, http[i]!, 'POST', '/v1/functions/hello/invoke', {
        params: { name: 'b' },
      }) as Promise<ActivationRecord>
    const first = await call(0)
    const ids = await Promise.all(c.agents.map(nodeIdOf))
    const local = ids.indexOf(first.node)
    const remote = 1 - local
    // Warm-up one call at a time: two at once would need a second container, which placement may
    // start on the other node, and 'forwarded' calls would then run where they were received.
    for (let i = 0; i < 20; i++) {
      await call(local)
      await call(remote)
    }
    const samples: Record<'local' | 'forwarded', number[]> = { local: [], forwarded: [] }
    let forwardedElsewhere = 0
    for (let block = 0; block < n / 10; block++) {
      for (const which of ['local', 'forwarded'] as const) {
        for (let i = 0; i < 10; i++) {
          const t0 = performance.now()
          const rec = await call(which === 'local' ? local : remote)
          samples[which].push(performance.now() - t0)
          if (which === 'forwarded' && rec.node !== first.node) forwardedElsewhere++
        }
      }
    }
    for (const h of http) h.destroy()
    return {
      warmInvokeLocalMs: summarize(samples.local),
      warmInvokeForwardedMs: summarize(samples.forwarded),
      forwardedRanOnAnotherNode: forwardedElsewhere,
    }
  } finally {
    await cleanup.run()
  }
}

/** Successful activations per second of a 100 ms function with 16 concurrent callers, 1 node vs 3. */
async function throughput(nodes: number, seconds: number): Promise<number> {
  const cleanup = new Cleanup()
  try {
    const c = await createCluster(nodes, cleanup, {
      env: {
        FNAGENT_LOG_LEVEL: 'warn',
        FNAGENT_INVOKER_MEMORY_BUDGET_MIB: '1024',
        FNAGENT_INVOKER_PREWARM: '[]',
      },
    })
    await deploy(
      c.agents,
      c.root,
      'work',
      'async function main() { await new Promise(r => setTimeout(r, 100)); return {} }\n',
    )
    let ok = 0
    const end = Date.now() + seconds * 1000
    const worker = async (i: number) => {
      const agent = c.agents[i % nodes]!
      const http = new HttpAgent({ keepAlive: true, maxSockets: 1 })
      while (Date.now() < end) {
        try {
          await socketCall(agent.socket, http, 'POST', '/v1/functions/work/invoke', {})
          ok++
        } catch {
          await new Promise((r) => setTimeout(r, 20)) // refused (node full): back off a little
        }
      }
      http.destroy()
    }
    const t0 = performance.now()
    await Promise.all(Array.from({ length: 16 }, (_, i) => worker(i)))
    return round(ok / ((performance.now() - t0) / 1000), 1)
  } finally {
    await cleanup.run()
  }
}

/**
 * One refusal round trip between two processes, what the simulator charges 0.3 ms for: this process
 * joins a one-agent cluster as a member of its own and asks the agent, on the forwarding channel,
 * to run as `warm` a function it holds no container of; the agent refuses at once (NOT_WARM).
 */
async function refusal(n: number): Promise<Record<string, unknown>> {
  const cleanup = new Cleanup()
  try {
    const c = await createCluster(1, cleanup, { env: { FNAGENT_LOG_LEVEL: 'error' } })
    const agent = c.agents[0]!
    await deploy(c.agents, c.root, 'hello', "function main(p) { return { payload: 'Hello, ' + p.name } }\n")
    const http = new HttpAgent({ keepAlive: true, maxSockets: 1 })
    const fn = (await socketCall(agent.socket, http, 'GET', '/v1/functions/hello')) as FunctionRecord
    http.destroy()
    // A member of its own in this process, on the agent's key and the agent's timings.
    const { heartbeatMs, suspectMs, deadMs, removeMs, sampleMs } = CLUSTER_DEFAULTS
    const own = await createMembers({
      n: 1,
      clusterKey: await readClusterKey(c.keyFile),
      options: { heartbeatMs, suspectMs, deadMs, removeMs, sampleMs },
    })
    cleanup.add(() => own.stop())
    const cluster = own.nodes[0]!.cluster
    await cluster.join(await addressOf(agent), AbortSignal.timeout(10_000))
    const target = await nodeIdOf(agent)
    const channels = new RpcChannels(cluster, FORWARD_PROTOCOL, { maxBytes: 4 * 1024 * 1024 })
    cleanup.add(() => channels.closeAll())
    const ask = async () => {
      const req: ForwardRequest = {
        v: 1,
        fn,
        params: {},
        activationId: randomBytes(16).toString('hex'),
        deadline: Date.now() + 60_000,
        hops: 1,
        explain: { receivedBy: cluster.peerId, reason: 'warm', score: 0, runnerUp: null, attempt: 1 },
      }
      const t0 = performance.now()
      const res = await channels.call(target, req, forwardResponseSchema, AbortSignal.timeout(10_000))
      const ms = performance.now() - t0
      if (res.type !== 'refused' || res.code !== 'NOT_WARM')
        throw new Error(`expected a NOT_WARM refusal, got ${JSON.stringify(res).slice(0, 200)}`)
      return ms
    }
    for (let i = 0; i < 50; i++) await ask()
    const samples: number[] = []
    for (let i = 0; i < n; i++) samples.push(await ask())
    return { refusalRoundTripMs: summarize(samples) }
  } finally {
    await cleanup.run()
  }
}

export async function benchForwarding(): Promise<Record<string, unknown>> {
  const lat = await latency(200)
  const ref = await refusal(300)
  const one = await throughput(1, 8)
  const three = await throughput(3, 8)
  return {
    ...lat,
    ...ref,
    throughputPerSec: {
      oneNode: one,
      threeNodes: three,
      note: '4 slots of 256 MiB per node, 100 ms function, 16 callers',
    },
  }
}

if (import.meta.main) {
  // `node bench/forwarding.ts latency [N]`: the latency half alone (N invocations per path);
  // `node bench/forwarding.ts refusal [N]`: refusal round trips alone;
  // `node bench/forwarding.ts throughput`: the throughput half alone.
  const [what, n] = process.argv.slice(2)
  const out =
    what === 'latency'
      ? await latency(Number(n) || 200)
      : what === 'refusal'
        ? await refusal(Number(n) || 300)
        : what === 'throughput'
          ? { oneNode: await throughput(1, 8), threeNodes: await throughput(3, 8) }
          : await benchForwarding()
  console.log(JSON.stringify(out, null, 2))
}
