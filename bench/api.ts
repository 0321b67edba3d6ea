/**
 * OpenWhisk REST API benchmark: warm blocking invoke latency (`?blocking=true&result=true`, basic
 * auth, keep-alive HTTP client) next to the same invocation through the local unix socket, in the
 * same run against the same warm container. Needs Docker and the fnagent/nodejs:24 image.
 *
 *   node_modules/.bin/node bench/api.ts
 */
import { Agent as HttpAgent, request } from 'node:http'
import { pathToFileURL } from 'node:url'
import { basic, startApiAgent } from '../test/api/helpers.ts'
import { Cleanup } from '../test/helpers/agent-process.ts'
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
    const api = await startApiAgent(cleanup, {
      env: { FNAGENT_LOG_LEVEL: 'info', FNAGENT_OPENWHISK_API_RATE_LIMIT_PER_MINUTE: '1000000' },
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
    // Alternate in blocks so both paths see the same container and machine load.
    const owSamples: number[] = []
    const sockSamples: number[] = []
    for (let i = 0; i < n; i += 10) {
      for (let j = 0; j < 10; j++) owSamples.push(await viaApi())
      for (let j = 0; j < 10; j++) sockSamples.push(await viaSocket())
    }
    const ow = summarize(owSamples)
    const sock = summarize(sockSamples)
    return {
      what: 'warm blocking invoke, result only, one client, keep-alive',
      openwhiskApi: ow,
      localSocket: sock,
      overheadP50Ms: round(ow.p50 - sock.p50),
    }
  } finally {
    await cleanup.run()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await benchApi(), null, 2))
  process.exit(0)
}
