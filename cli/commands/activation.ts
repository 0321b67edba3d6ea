import type { Command } from 'commander'
import type { ActivationRecord } from '../../agent/store/types.ts'
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

export function registerInvokeCommand(program: Command): void {
  program
    .command('invoke <name>')
    .description('invoke a function (blocking by default); name@N runs its version N')
    .option('-p, --param <keyValue...>', 'parameter KEY VALUE (JSON or string); repeatable', collect)
    .option('-P, --param-file <file>', 'parameters from a JSON file')
    .option('-r, --result', 'print only the result')
    .option('--async', 'return the activation id at once instead of waiting')
    .action(
      async (
        name: string,
        o: { param?: string[]; paramFile?: string; result?: boolean; async?: boolean },
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
          { params, blocking: !o.async, ...(at ? { version: Number(at[2]) } : {}) },
        )
        if (o.async) {
          const id = (res.body as { activationId: string }).activationId
          if (wantsJson(cmd)) printJson(res.body)
          else process.stdout.write(`invoked ${name} with id ${id}\n`)
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
    .action(
      async (
        o: { fn?: string; limit?: number; since?: string; skip?: number; cluster?: boolean },
        cmd: Command,
      ) => {
        const list = await clientFor(cmd).get<ActivationRecord[]>(`/v1/activations${listQuery(o)}`)
        if (wantsJson(cmd)) printJson(list)
        else printTable(HEAD, activationRows(list))
      },
    )

  act
    .command('get <id>')
    .description('show an activation record')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      printJson(await clientFor(cmd).get(`/v1/activations/${encodeURIComponent(id)}`))
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
