/**
 * Invoker benchmark: warm invoke latency through `Invoker.invoke` next to the floor (a direct HTTP
 * round trip to the same container's /run), cold starts with and without a prewarmed container, concurrent
 * warm throughput, and `docker run --rm` per invocation as the naive baseline.
 *
 *   node_modules/.bin/node bench/invoker.ts        (needs a Docker engine)
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import Dockerode from 'dockerode'
import { Invoker } from '../agent/invoker/index.ts'
import { silentLogger } from '../agent/log.ts'
import { HybridClock } from '../agent/store/hlc.ts'
import { DEFAULT_LIMITS, type FunctionRecord, newActivationId } from '../agent/store/types.ts'
import { waitFor } from '../test/helpers/wait-for.ts'
import { ensureBlackboxImage } from '../test/invoker/fixtures/images.ts'

const exec = promisify(execFile)
const NETWORK = 'fnagent-bench-functions'
const CODE = Buffer.from('function main(params) { return { hello: params.name ?? "world" } }')

export async function benchInvoker(): Promise<Record<string, unknown>> {
  const docker = new Dockerode()
  // The real nodejs:24 runtime when it is built; otherwise the blackbox test server stands in for it.
  const runtime = await docker
    .getImage('fnagent/nodejs:24')
    .inspect()
    .then(
      () => 'fnagent/nodejs:24',
      () => null,
    )
  const image = runtime ?? (await ensureBlackboxImage(docker))
  const make = (prewarm: number) => {
    const nodeId = `bench-${randomBytes(4).toString('hex')}`
    return new Invoker(
      {
        logger: silentLogger(),
        docker,
        nodeId,
        clock: new HybridClock(),
        systemMemoryMiB: async () => 8192,
        imageFor: (kind) => (kind === 'nodejs:24' ? image : `fnagent/${kind}`),
      },
      {
        network: NETWORK,
        memoryBudgetMiB: 4096,
        prewarm: [{ kind: 'nodejs:24', memory: 256, count: prewarm }],
      },
    )
  }
  const results: Record<string, unknown> = { image }

  // Warm latency, the floor and throughput on a pool without prewarmed containers: every container is labelled
  // with its function from creation, which the floor measurement uses to find it.
  const inv = make(0)
  await inv.start()
  try {
    const fn = fnRecord()
    const cold: number[] = []
    for (let i = 0; i < 10; i++) {
      const t = performance.now()
      await inv.invoke(req(fnRecord()))
      cold.push(performance.now() - t)
    }
    results.coldWithoutPrewarm = summary(cold)
    await inv.invoke(req(fn))
    const warm: number[] = []
    for (let i = 0; i < 50; i++) await inv.invoke(req(fn)) // warm-up
    for (let i = 0; i < 1000; i++) {
      const t = performance.now()
      const r = await inv.invoke(req(fn))
      warm.push(performance.now() - t)
      if (r.response.status !== 'success')
        throw new Error(`bench activation failed: ${JSON.stringify(r.response)}`)
    }
    results.warmInvoke = summary(warm)
    results.floorDirectHttp = summary(await floor(docker, fn))

    // Throughput: 4 functions, one in-flight activation each (concurrency 1 per container), 250 each.
    const fns = Array.from({ length: 4 }, () => fnRecord())
    await Promise.all(fns.map((f) => inv.invoke(req(f))))
    const t = performance.now()
    await Promise.all(
      fns.map(async (f) => {
        for (let i = 0; i < 250; i++) await inv.invoke(req(f))
      }),
    )
    results.concurrentWarm4x250PerSec = Math.round(1000 / ((performance.now() - t) / 1000))
  } finally {
    await inv.stop()
  }

  const withPrewarm = make(1)
  await withPrewarm.start()
  try {
    const times: number[] = []
    for (let i = 0; i < 10; i++) {
      await waitFor(() => (withPrewarm.state().prewarm['nodejs:24@256'] ?? 0) >= 1, {
        what: 'a prewarmed container',
        timeoutMs: 30_000,
        everyMs: 10,
      })
      const t = performance.now()
      const r = await withPrewarm.invoke(req(fnRecord()))
      times.push(performance.now() - t)
      const start = r.annotations.find((a) => a.key === 'start')?.value
      if (start !== 'prewarmed') throw new Error(`expected a prewarmed container, got ${String(start)}`)
    }
    results.coldWithPrewarm = summary(times)
  } finally {
    await withPrewarm.stop()
  }

  const naive: number[] = []
  for (let i = 0; i < 10; i++) {
    const t = performance.now()
    await exec(
      'docker',
      [
        'run',
        '--rm',
        '--network',
        'none',
        '--entrypoint',
        'node',
        image,
        '-e',
        'console.log(JSON.stringify({hello:"world"}))',
      ],
      { timeout: 60_000 },
    )
    naive.push(performance.now() - t)
  }
  results.dockerRunRmPerInvocation = summary(naive)
  return results
}

/** The same /run request sent straight to the warm container: what the invoker adds is the difference. */
async function floor(docker: Dockerode, fn: FunctionRecord): Promise<number[]> {
  const direct = await directRunner(docker, fn.namespace, fn.name)
  const times: number[] = []
  for (let i = 0; i < 50; i++) await direct.once()
  for (let i = 0; i < 1000; i++) {
    const t = performance.now()
    await direct.once()
    times.push(performance.now() - t)
  }
  direct.close()
  return times
}

/**
 * A /run request straight to the warm container of `namespace/name` (found by its label), over one
 * keep-alive connection: the floor any path through the agent is measured against.
 */
export async function directRunner(
  docker: Dockerode,
  namespace: string,
  name: string,
  nodeId?: string,
): Promise<{ once: () => Promise<void>; close: () => void }> {
  const label = [`fnagent.fn=${namespace}/${name}`, ...(nodeId ? [`fnagent.node=${nodeId}`] : [])]
  const [info] = await docker.listContainers({ filters: { label } })
  if (!info) throw new Error('warm container not found')
  // The container is on one network: the invoker's (the bench's own, or the agent's default).
  const ip = Object.values(info.NetworkSettings.Networks)[0]?.IPAddress
  if (!ip) throw new Error('warm container has no address')
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const body = JSON.stringify({
    value: { name: 'x' },
    namespace,
    action_name: `/${namespace}/${name}`,
    action_version: '0.0.1',
    activation_id: newActivationId(),
    transaction_id: 't',
    deadline: String(Date.now() + 600_000),
  })
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const r = http.request(
        {
          host: ip,
          port: 8080,
          path: '/run',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume()
          res.on('end', resolve)
        },
      )
      r.on('error', reject)
      r.end(body)
    })
  return { once, close: () => agent.destroy() }
}

function fnRecord(): FunctionRecord {
  const hlc = new HybridClock().now()
  return {
    namespace: 'bench',
    name: `f-${randomBytes(4).toString('hex')}`,
    version: 1,
    kind: 'nodejs:24',
    main: 'main',
    binary: false,
    codeSize: CODE.length,
    parameters: {},
    annotations: {},
    env: {},
    limits: { ...DEFAULT_LIMITS },
    created: hlc,
    updated: hlc,
    origin: 'bench',
  }
}

function req(fn: FunctionRecord) {
  return { fn, code: CODE, params: { name: 'bench' }, activationId: newActivationId() }
}

function summary(ms: number[]): { n: number; p50: number; p99: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b)
  const q = (p: number) => round(s[Math.min(s.length - 1, Math.floor(p * s.length))]!)
  return { n: s.length, p50: q(0.5), p99: q(0.99), mean: round(s.reduce((a, b) => a + b, 0) / s.length) }
}

function round(x: number): number {
  return Math.round(x * 100) / 100
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await benchInvoker()
  const rows: Record<string, unknown>[] = []
  for (const [name, v] of Object.entries(results)) {
    rows.push(typeof v === 'object' && v !== null ? { name, ...v } : { name, value: v })
  }
  console.table(rows)
}
