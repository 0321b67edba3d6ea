import type { Command } from 'commander'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { ApiError, type Client } from '../client.ts'
import {
  clientFor,
  collect,
  pairsToObject,
  positiveInt,
  readJsonFile,
  UsageError,
  wantsJson,
} from '../context.ts'
import { isoTime, printJson, printTable } from '../output.ts'

function annotation(rec: ActivationRecord, key: string): unknown {
  return rec.annotations.find((a) => a.key === key)?.value
}

/** wsk's columns: time, id, kind, start (warm/cold), duration, status, entity. */
function activationRows(list: ActivationRecord[]) {
  return list.map((a) => [
    isoTime(a.start),
    a.activationId,
    String(annotation(a, 'kind') ?? ''),
    a.cold ? 'cold' : 'warm',
    `${a.duration}ms`,
    a.response.status,
    `${a.name}:${a.version}`,
    a.node.slice(-8),
  ])
}

const HEAD = ['time', 'id', 'kind', 'start', 'duration', 'status', 'entity', 'node']

/** Parses --since: epoch ms, an ISO date, or a relative '10m' / '2h' / '30s'. */
export function parseSince(raw: string): number {
  const rel = /^(\d+)(s|m|h|d)$/.exec(raw)
  if (rel)
    return Date.now() - Number(rel[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's']
  if (/^\d+$/.test(raw)) return Number(raw)
  const t = Date.parse(raw)
  if (Number.isNaN(t))
    throw new UsageError(`--since takes epoch ms, an ISO date or 30s/10m/2h/1d; got '${raw}'`)
  return t
}

function listQuery(o: {
  fn?: string
  limit?: number
  since?: string
  skip?: number
  cluster?: boolean
}): string {
  const q = new URLSearchParams()
  if (o.cluster) q.set('cluster', 'true')
  if (o.fn) q.set('name', o.fn)
  if (o.limit !== undefined) q.set('limit', String(o.limit))
  if (o.skip !== undefined) q.set('skip', String(o.skip))
  if (o.since) q.set('since', String(parseSince(o.since)))
  return q.size ? `?${q}` : ''
}

function priorityArg(raw: string): number {
  if (!/^[012]$/.test(raw)) throw new UsageError(`--priority takes 0, 1 or 2; got '${raw}'`)
  return Number(raw)
}

/** A "still running" answer, completed with where the job stands: queued or running, attempts, wait. */
async function withJobState(client: Client, id: string, err: unknown): Promise<unknown> {
  if (!(err instanceof ApiError) || err.code !== 'NOT_FOUND' || !err.message.includes('still running'))
    return err
  const job = await client
    .get<{ state: string; node: string; priority?: number; waitedMs?: number; attempt?: number }>(
      `/v1/activations/${encodeURIComponent(id)}/job`,
    )
    .catch(() => null)
  if (!job) return err
  const where = `${job.state} on node ${job.node.slice(-8)}`
  const more =
    job.priority === undefined
      ? ''
      : `, priority ${job.priority}, waited ${job.waitedMs} ms, ${job.attempt} attempts done`
  return new ApiError(err.status, err.code, `activation ${id} is still running: ${where}${more}`, { job })
}

export function registerInvokeCommand(program: Command): void {
  program
    .command('invoke <name>')
    .description('invoke a function (blocking by default); name@N runs its version N')
    .option('-p, --param <keyValue...>', 'parameter KEY VALUE (JSON or string); repeatable', collect)
    .option('-P, --param-file <file>', 'parameters from a JSON file')
    .option('-r, --result', 'print only the result')
    .option('--async', 'return the activation id once the job is stored on its owners (queued durably)')
    .option('--priority <n>', 'queue priority: 0 (default), 1 or 2 (highest)', priorityArg)
    .option('--callback <url>', 'with --async: POST the finished record to this http(s) URL (retried)')
    .action(
      async (
        name: string,
        o: {
          param?: string[]
          paramFile?: string
          result?: boolean
          async?: boolean
          priority?: number
          callback?: string
        },
        cmd: Command,
      ) => {
        const params = {
          ...(o.paramFile ? readJsonFile(o.paramFile, '-P') : {}),
          ...pairsToObject(o.param, '-p'),
        }
        const client = clientFor(cmd)
        // `name@3`: version 3 (a name may hold `@`, but never ends in `@digits` when invoked so).
        const at = /^(.+)@(\d+)$/.exec(name)
        const res = await client.call<ActivationRecord | { activationId: string }>(
          'POST',
          `/v1/functions/${encodeURIComponent(at ? at[1]! : name)}/invoke`,
          {
            params,
            blocking: !o.async,
            ...(at ? { version: Number(at[2]) } : {}),
            ...(o.priority !== undefined ? { priority: o.priority } : {}),
            ...(o.callback ? { callback: o.callback } : {}),
          },
        )
        if (!o.async && res.status === 202) {
          // No node could take it at once and it waited in the queue past the blocking wait: it runs later.
          const id = (res.body as { activationId: string }).activationId
          if (wantsJson(cmd) || o.result) printJson(res.body)
          else {
            process.stdout.write(
              `queued: ${name} ${id} (every node was busy; it runs when a slot frees: fnagent activation get ${id})\n`,
            )
          }
          return
        }
        if (o.async) {
          const id = (res.body as { activationId: string }).activationId
          if (wantsJson(cmd)) printJson(res.body)
          else {
            const { copies } = res.body as { copies?: number }
            process.stdout.write(`invoked ${name} with id ${id} (queued, ${copies ?? 1} copies)\n`)
          }
          return
        }
        const rec = res.body as ActivationRecord
        if (o.result) printJson(rec.response.result ?? {})
        else if (wantsJson(cmd)) printJson(rec)
        else {
          process.stdout.write(
            `${rec.response.success ? 'ok' : rec.response.status}: ${name} ${rec.activationId} (${rec.duration} ms, ${rec.cold ? 'cold' : 'warm'})\n`,
          )
          printJson(rec.response.result ?? {})
        }
        if (!rec.response.success) process.exitCode = 1
      },
    )
}

export function registerActivationCommands(program: Command): void {
  const act = program.command('activation').description('activation records: list, get, result, logs, poll')

  act
    .command('list')
    .description('list recent activations, newest first')
    .option('--fn <name>', 'only this function')
    .option('--limit <n>', 'how many (1–200, default 30)', positiveInt('--limit'))
    .option('--skip <n>', 'skip this many', positiveInt('--skip'))
    .option('--since <time>', 'only since: epoch ms, ISO date, or 30s/10m/2h/1d')
    .option('--cluster', 'merge the records of every live node')
    .option(
      '--dead',
      'the dead-letter list: queued jobs whose every attempt failed (replay with `activation replay`)',
    )
    .action(
      async (
        o: { fn?: string; limit?: number; since?: string; skip?: number; cluster?: boolean; dead?: boolean },
        cmd: Command,
      ) => {
        const q = o.dead ? `?dead=true&limit=${o.limit ?? 30}` : listQuery(o)
        const list = await clientFor(cmd).get<ActivationRecord[]>(`/v1/activations${q}`)
        if (wantsJson(cmd)) printJson(list)
        else printTable(HEAD, activationRows(list))
      },
    )

  act
    .command('get <id>')
    .description('show an activation record (while an async job waits or runs: where it stands)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const client = clientFor(cmd)
      try {
        printJson(await client.get(`/v1/activations/${encodeURIComponent(id)}`))
      } catch (err) {
        throw await withJobState(client, id, err)
      }
    })

  act
    .command('replay <id>')
    .description('run a dead letter again, as a new async job (its id is printed)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const res = await clientFor(cmd).call<{ activationId: string }>(
        'POST',
        `/v1/activations/${encodeURIComponent(id)}/replay`,
      )
      if (wantsJson(cmd)) printJson(res.body)
      else process.stdout.write(`replayed ${id} as ${res.body.activationId}\n`)
    })

  act
    .command('result <id>')
    .description("show an activation's result")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      printJson(await clientFor(cmd).get(`/v1/activations/${encodeURIComponent(id)}/result`))
    })

  act
    .command('logs <id>')
    .description("show an activation's log lines")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { logs } = await clientFor(cmd).get<{ logs: string[] }>(
        `/v1/activations/${encodeURIComponent(id)}/logs`,
      )
      if (wantsJson(cmd)) printJson({ logs })
      else for (const line of logs) process.stdout.write(`${line}\n`)
    })

  act
    .command('poll')
    .description('print new activations as they finish (Ctrl-C to stop)')
    .option('--fn <name>', 'only this function')
    .option('--interval <ms>', 'poll period (default 1000)', positiveInt('--interval'))
    .option('--exit <seconds>', 'stop after this many seconds', positiveInt('--exit'))
    .action(async (o: { fn?: string; interval?: number; exit?: number }, cmd: Command) => {
      const client = clientFor(cmd)
      const seen = new Set<string>()
      let since = Date.now()
      const stopAt = o.exit !== undefined ? Date.now() + o.exit * 1000 : Number.POSITIVE_INFINITY
      process.stdout.write('polling for activation logs\n')
      while (Date.now() < stopAt) {
        const list = await client.get<ActivationRecord[]>(
          `/v1/activations${listQuery({ fn: o.fn, limit: 200, since: String(since) })}`,
        )
        for (const a of list.reverse()) {
          if (seen.has(a.activationId)) continue
          seen.add(a.activationId)
          since = Math.max(since, a.start)
          process.stdout.write(`\nActivation: '${a.name}' (${a.activationId}) ${a.response.status}\n`)
          for (const line of a.logs) process.stdout.write(`${line}\n`)
        }
        await new Promise((r) => setTimeout(r, o.interval ?? 1000))
      }
    })
}
