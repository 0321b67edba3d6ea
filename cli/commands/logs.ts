import type { Command } from 'commander'
import type { FollowEvent, TailEntry } from '../../agent/logs/index.ts'
import { NoAgentError } from '../client.ts'
import { clientFor, type GlobalOptions, positiveInt, socketPath, UsageError, wantsJson } from '../context.ts'

// As cli/client.ts: not `import … from 'node:http'` (its ESM namespace loads undici).
const { request } = process.getBuiltinModule('node:http')

/**
 * `fnagent logs [-f]`: the log lines of the last activations of every node, merged in the order
 * they ended; with -f, those of every activation that finishes from now on, as they finish.
 */
export function registerLogsCommand(program: Command): void {
  program
    .command('logs')
    .description(
      "the log lines of every node's last activations, in the order they ended; -f: follow them as they finish (Ctrl-C to stop)",
    )
    .option('-f, --follow', 'follow the activations that finish from now on')
    .option('--fn <name>', 'only this function')
    .option(
      '-n, --last <n>',
      'without -f: how many activations (default 50, at most 1000)',
      positiveInt('--last'),
    )
    .action(async (o: { follow?: boolean; fn?: string; last?: number }, cmd: Command) => {
      const json = wantsJson(cmd)
      if (!o.follow) {
        const q = new URLSearchParams({ limit: String(o.last ?? 50), ...(o.fn ? { fn: o.fn } : {}) })
        const entries = await clientFor(cmd).get<TailEntry[]>(`/v1/logs?${q}`)
        if (json) process.stdout.write(`${JSON.stringify(entries)}\n`)
        else for (const entry of entries) process.stdout.write(format({ type: 'entry', entry }))
        return
      }
      if (o.last !== undefined) throw new UsageError('--last is for past logs, not with -f')
      const socket = socketPath(cmd.optsWithGlobals<GlobalOptions>())
      await follow(socket, o.fn, (event) => {
        if (json) process.stdout.write(`${JSON.stringify(event)}\n`)
        else if (event.type === 'following') process.stderr.write(`[${event.node.slice(-8)}] following\n`)
        else process.stdout.write(format(event))
      })
    })
}

function format(event: Exclude<FollowEvent, { type: 'following' }>): string {
  if (event.type === 'missed')
    return `[${event.node.slice(-8)}] … ${event.count} activation(s) skipped (over the log tail's rate bound)\n`
  const e = event.entry
  const head = `[${e.node.slice(-8)}] ${e.namespace}/${e.name} ${e.activationId}`
  const cut = e.truncated ? `${head} … ${e.truncated} earlier line(s) not shown\n` : ''
  return cut + e.logs.map((l) => `${head} ${l}\n`).join('')
}

function follow(socket: string, fn: string | undefined, onEvent: (e: FollowEvent) => void): Promise<void> {
  const path = `/v1/logs/follow${fn ? `?fn=${encodeURIComponent(fn)}` : ''}`
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method: 'GET', path }, (res) => {
      if (res.statusCode !== 200) {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          text += d
        })
        res.on('end', () => reject(new Error(`the agent answered ${res.statusCode}: ${text.slice(0, 300)}`)))
        return
      }
      let buf = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        buf += d
        let nl = buf.indexOf('\n')
        while (nl >= 0) {
          const line = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          if (line) onEvent(JSON.parse(line) as FollowEvent)
          nl = buf.indexOf('\n')
        }
      })
      res.on('end', () => resolve())
      res.on('error', reject)
    })
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? new NoAgentError(
              `no agent answers on ${socket}; start one with 'fnagent start' (or pass --socket / --data-dir)`,
            )
          : err,
      ),
    )
    req.end()
  })
}
