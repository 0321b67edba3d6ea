import { writeFileSync } from 'node:fs'
import { Agent as HttpAgent, request } from 'node:http'
import { join } from 'node:path'
import { cli, removeDir, startAgent, tempDir } from '../test/helpers/agent-process.ts'
import { summarize } from './stats.ts'

/** One keep-alive JSON call over the agent's unix socket. */
export function socketCall(
  socket: string,
  agent: HttpAgent,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const data = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        agent,
        method,
        path,
        headers: data
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }
          : {},
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          text += d
        })
        res.on('end', () =>
          res.statusCode && res.statusCode < 300
            ? resolve(JSON.parse(text))
            : reject(new Error(`${res.statusCode} ${text}`)),
        )
      },
    )
    req.on('error', reject)
    req.end(data)
  })
}

/**
 * Warm invoke latency through the local API (unix socket, keep-alive client), from a real agent
 * process, measured end to end: API → activation service → placement → invoker → container → record.
 */
export async function benchLocalApi(opts: { iterations?: number } = {}): Promise<Record<string, unknown>> {
  const n = opts.iterations ?? 300
  const dir = tempDir()
  const agent = await startAgent({ args: ['--no-cluster'], env: { FNAGENT_LOG_LEVEL: 'warn' } })
  try {
    writeFileSync(join(dir, 'hello.js'), "function main(p) { return { payload: 'Hello, ' + p.name } }\n")
    const created = await cli(['--socket', agent.socket, 'fn', 'create', 'hello', join(dir, 'hello.js')])
    if (created.code !== 0) throw new Error(created.stderr)
    const http = new HttpAgent({ keepAlive: true, maxSockets: 1 })
    const invoke = () =>
      socketCall(agent.socket, http, 'POST', '/v1/functions/hello/invoke', { params: { name: 'bench' } })
    for (let i = 0; i < 20; i++) await invoke()
    const samples: number[] = []
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      await invoke()
      samples.push(performance.now() - t0)
    }
    http.destroy()
    return { warmInvokeLocalApiMs: summarize(samples) }
  } finally {
    await agent.stop()
    removeDir(agent.dataDir)
    removeDir(dir)
  }
}

if (import.meta.main) console.log(JSON.stringify(await benchLocalApi(), null, 2))
