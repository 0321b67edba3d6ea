/**
 * OpenWhisk REST API benchmark: warm blocking invoke latency (`?blocking=true&result=true`, basic
 * auth, keep-alive HTTP client) next to the same invocation through the local unix socket, in the
 * same run against the same warm container, and the floor: the same /run sent straight to that
 * container. Needs Docker and the fnagent/nodejs:24 image.
 *
 *   node_modules/.bin/node bench/api.ts
 */
import { writeFileSync } from 'node:fs'
import { Agent as HttpAgent, request } from 'node:http'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import Dockerode from 'dockerode'
import { basic, startApiAgent } from '../test/api/helpers.ts'
import { Cleanup, removeDir, tempDir } from '../test/helpers/agent-process.ts'
import { directRunner } from './invoker.ts'
import { socketCall } from './local-api.ts'
import { round, summarize } from './stats.ts'

const CODE = "function main(params) { return { payload: 'Hello, ' + params.name } }"

function owCall(url: URL, agent: HttpAgent, auth: string, method: string, path: string, body: unknown) {
  const data = JSON.stringify(body)
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        agent,
        method,
        path,
        headers: {
          authorization: basic(auth),
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          text += d
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      },
    )
    req.on('error', reject)
    req.end(data)
  })
}

export async function benchApi(opts: { n?: number } = {}): Promise<Record<string, unknown>> {
  const n = opts.n ?? 300
  const cleanup = new Cleanup()
  try {
    // No prewarmed containers: the function's container is then created for it and labelled with
    // it, which is how the floor finds it (a prewarmed one keeps its stem-cell labels).
    const dir = tempDir('fnagent-bench-api-')
    cleanup.add(() => removeDir(dir))
    const config = join(dir, 'config.json')
    writeFileSync(config, JSON.stringify({ invoker: { prewarm: [] } }))
    const api = await startApiAgent(cleanup, {
      env: { FNAGENT_LOG_LEVEL: 'info', FNAGENT_OPENWHISK_API_RATE_LIMIT_PER_MINUTE: '1000000' },
      args: ['--config', config],
    })
    const auth = await api.newKey('bench')
    const url = new URL(api.apihost)
    const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 1 })
    const sockAgent = new HttpAgent({ keepAlive: true, maxSockets: 1 })
    cleanup.add(() => httpAgent.destroy())
    cleanup.add(() => sockAgent.destroy())
    const put = await owCall(
      url,
      httpAgent,
      auth,
      'PUT',
      '/api/v1/namespaces/_/actions/hello?overwrite=true',
      {
        exec: { kind: 'nodejs:default', code: CODE },
      },
    )
    if (put.status !== 200) throw new Error(`create failed: ${put.status} ${put.text}`)
    const viaApi = async () => {
      const t = performance.now()
      const r = await owCall(
        url,
        httpAgent,
        auth,
        'POST',
        '/api/v1/namespaces/_/actions/hello?blocking=true&result=true',
        {
          name: 'bench',
        },
      )
      if (r.status !== 200) throw new Error(`invoke failed: ${r.status} ${r.text}`)
      return performance.now() - t
    }
    const viaSocket = async () => {
      const t = performance.now()
      await socketCall(api.agent.socket, sockAgent, 'POST', '/v1/functions/hello/invoke', {
        params: { name: 'bench' },
        blocking: true,
        result: true,
      })
      return performance.now() - t
    }
    for (let i = 0; i < 20; i++) await viaApi() // cold start and warm-up
    for (let i = 0; i < 5; i++) await viaSocket()
    // The floor: the same container's /run, straight (the one warm container of `hello`).
    const status = await api.agent.cli(['--json', 'status'])
    const { nodeId } = JSON.parse(status.stdout) as { nodeId: string }
    const direct = await directRunner(new Dockerode(), 'guest', 'hello', nodeId)
    cleanup.add(() => direct.close())
    const viaDirect = async () => {
      const t = performance.now()
      await direct.once()
      return performance.now() - t
    }
    for (let i = 0; i < 20; i++) await viaDirect()
    // Alternate in blocks so every path sees the same container and machine load.
    const owSamples: number[] = []
    const sockSamples: number[] = []
    const directSamples: number[] = []
    for (let i = 0; i < n; i += 10) {
      for (let j = 0; j < 10; j++) owSamples.push(await viaApi())
      for (let j = 0; j < 10; j++) sockSamples.push(await viaSocket())
      for (let j = 0; j < 10; j++) directSamples.push(await viaDirect())
    }
    const ow = summarize(owSamples)
    const sock = summarize(sockSamples)
    const floor = summarize(directSamples)
    const ratio = (a: number, b: number) => round(a / b)
    return {
      what: 'warm blocking invoke, result only, one client, keep-alive; floor: the same container /run direct',
      openwhiskApi: ow,
      localSocket: sock,
      directToContainer: floor,
      overheadP50Ms: round(ow.p50 - sock.p50),
      // Goals (issue 23): p50 <= 2x the floor, p99 <= 4x, for both APIs.
      ratioToFloor: {
        openwhiskApi: { p50: ratio(ow.p50, floor.p50), p99: ratio(ow.p99, floor.p99) },
        localSocket: { p50: ratio(sock.p50, floor.p50), p99: ratio(sock.p99, floor.p99) },
      },
    }
  } finally {
    await cleanup.run()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await benchApi(), null, 2))
  process.exit(0)
}
