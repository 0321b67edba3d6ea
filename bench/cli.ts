/**
 * What a user feels from a shell: the wall time of `fnagent --version` and of `fnagent invoke` (a
 * warm function, through the local socket) next to a bare Node start and to curl calling the REST
 * API for the same invocation. Medians of alternated runs.
 *
 *   node_modules/.bin/node bench/cli.ts
 */
import { execFile } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { startApiAgent } from '../test/api/helpers.ts'
import { BIN, Cleanup, NODE } from '../test/helpers/agent-process.ts'
import { round } from './stats.ts'

function wall(cmd: string, args: string[]): Promise<number> {
  const t = performance.now()
  return new Promise((resolve, reject) =>
    execFile(cmd, args, (err, _out, stderr) =>
      err
        ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`))
        : resolve(performance.now() - t),
    ),
  )
}

const median = (xs: number[]) => round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!, 1)

export async function benchCli(opts: { runs?: number } = {}): Promise<Record<string, unknown>> {
  const runs = opts.runs ?? 11
  const cleanup = new Cleanup()
  try {
    const api = await startApiAgent(cleanup, { env: { FNAGENT_LOG_LEVEL: 'info' } })
    const auth = await api.newKey('bench')
    const put = await fetch(`${api.apihost}/api/v1/namespaces/_/actions/hello?overwrite=true`, {
      method: 'PUT',
      headers: {
        authorization: `Basic ${Buffer.from(auth).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        exec: { kind: 'nodejs:default', code: 'function main(p) { return { hi: p.name } }' },
      }),
    })
    if (put.status !== 200) throw new Error(`create failed: ${put.status} ${await put.text()}`)
    const sock = ['--socket', api.agent.socket]
    const commands: Record<string, [string, string[]]> = {
      bareNode: [NODE, ['-e', '0']],
      fnagentVersion: [NODE, [BIN, '--version']],
      fnagentInvoke: [NODE, [BIN, ...sock, 'invoke', 'hello', '-p', 'name', 'x']],
      curlRestInvoke: [
        'curl',
        [
          '-sf',
          '-u',
          auth,
          '-X',
          'POST',
          `${api.apihost}/api/v1/namespaces/_/actions/hello?blocking=true&result=true`,
        ],
      ],
    }
    for (const [cmd, args] of Object.values(commands)) await wall(cmd, args) // warm caches, container
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]))
    for (let i = 0; i < runs; i++)
      for (const [name, [cmd, args]] of Object.entries(commands)) times[name]!.push(await wall(cmd, args))
    const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]))
    return {
      what: `wall ms, median of ${runs} alternated runs; goal (issue 23): every verb <= 3x bareNode`,
      medianMs: med,
      ratioToBareNode: {
        version: round(med.fnagentVersion! / med.bareNode!),
        invoke: round(med.fnagentInvoke! / med.bareNode!),
      },
    }
  } finally {
    await cleanup.run()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await benchCli(), null, 2))
  process.exit(0)
}
