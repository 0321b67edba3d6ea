// A client behind a load balancer with health checks, for the rolling upgrade of e2e.sh: it invokes
// an action continuously over the OpenWhisk REST API, each call on a node that is up (its
// `GET /api/v1` answered within the last health round), and counts what happened until SIGTERM;
// then prints one JSON line: calls made, answered, failed, retried elsewhere, the longest pause
// between two answered calls, and the first failures.
//
// A call a node did not accept (connection refused; 503 "takes no new invocations" from a draining
// agent) is sent to another node, as a load balancer does, and counts as retried, not failed. Every
// call a node accepted must be answered with its own result: anything else is a failure.
//
//   node test/ansible/lb-client.ts '{"nodes":[{"name":"node1","url":"http://…:3233","auth":"uuid:key"}],"action":"e2e-slow"}'
import { request } from 'node:http'

interface NodeSpec {
  name: string
  url: string
  auth: string
}
interface Spec {
  nodes: NodeSpec[]
  action: string
  concurrency?: number
  healthEveryMs?: number
}

interface Answer {
  status: number
  body: string
}

function call(
  url: string,
  method: string,
  auth: string | null,
  body: unknown,
  timeoutMs: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const req = request(
      url,
      {
        method,
        timeout: timeoutMs,
        headers: {
          ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}),
          ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}),
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        )
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(data)
  })
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec
const healthy = new Set<string>(spec.nodes.map((n) => n.name))
const started = Date.now()
let stopping = false
let seq = 0
let next = 0
let calls = 0
let answered = 0
let failed = 0
let retried = 0
let lastAnswer = started
let longestPauseMs = 0
const failures: string[] = []
const perNode: Record<string, number> = {}

async function healthLoop(): Promise<void> {
  while (!stopping) {
    await Promise.all(
      spec.nodes.map(async (n) => {
        const ok = await call(`${n.url}/api/v1`, 'GET', null, undefined, 1000).then(
          (a) => a.status === 200,
          () => false,
        )
        if (ok) healthy.add(n.name)
        else healthy.delete(n.name)
      }),
    )
    await new Promise((r) => setTimeout(r, spec.healthEveryMs ?? 250))
  }
}

function pick(): NodeSpec | undefined {
  const up = spec.nodes.filter((n) => healthy.has(n.name))
  if (up.length === 0) return undefined
  next = (next + 1) % up.length
  return up[next]
}

function fail(reason: string): void {
  failed++
  if (failures.length < 20) failures.push(`${new Date().toISOString()} ${reason}`)
}

/** One call, sent to nodes that are up until one accepts it. */
async function oneCall(): Promise<void> {
  const n = ++seq
  calls++
  for (;;) {
    const node = pick()
    if (!node) {
      await new Promise((r) => setTimeout(r, 100))
      continue
    }
    let a: Answer
    try {
      a = await call(
        `${node.url}/api/v1/namespaces/_/actions/${spec.action}?blocking=true&result=true`,
        'POST',
        node.auth,
        { n },
        120_000,
      )
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ECONNREFUSED') {
        healthy.delete(node.name)
        retried++
        continue
      }
      fail(`call ${n} on ${node.name}: ${(err as Error).message}`)
      return
    }
    if (a.status === 503 && /takes no new invocations/.test(a.body)) {
      healthy.delete(node.name)
      retried++
      continue
    }
    let result: { n?: unknown } | null = null
    try {
      result = JSON.parse(a.body) as { n?: unknown }
    } catch {
      // reported below
    }
    if (a.status !== 200 || result?.n !== n) {
      fail(`call ${n} on ${node.name}: ${a.status} ${a.body.slice(0, 300)}`)
      return
    }
    answered++
    perNode[node.name] = (perNode[node.name] ?? 0) + 1
    const now = Date.now()
    longestPauseMs = Math.max(longestPauseMs, now - lastAnswer)
    lastAnswer = now
    return
  }
}

async function worker(): Promise<void> {
  while (!stopping) await oneCall()
}

process.on('SIGTERM', () => {
  stopping = true
})
process.on('SIGINT', () => {
  stopping = true
})

const health = healthLoop()
await Promise.all(Array.from({ length: spec.concurrency ?? 2 }, () => worker()))
await health
longestPauseMs = Math.max(longestPauseMs, Date.now() - lastAnswer)
process.stdout.write(
  `${JSON.stringify({ calls, answered, failed, retried, longestPauseMs, seconds: Math.round((Date.now() - started) / 1000), perNode, failures })}\n`,
)
