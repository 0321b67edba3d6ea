import { readFileSync, statSync } from 'node:fs'
import { extname } from 'node:path'
import { type Command, Option } from 'commander'
import type { FunctionRecord } from '../../agent/store/types.ts'
import {
  clientFor,
  collect,
  pairsToObject,
  positiveInt,
  readJsonFile,
  UsageError,
  wantsJson,
} from '../context.ts'
import { printFields, printJson, printTable } from '../output.ts'

interface PutOptions {
  kind?: string
  main?: string
  param?: string[]
  paramFile?: string
  annotation?: string[]
  env?: string[]
  secretParam?: string[]
  secretEnv?: string[]
  memory?: number
  timeout?: number
  concurrency?: number
  logs?: number
  image?: string
  binary?: boolean
  waitReplicas?: number
  sequence?: string
}

const KIND_BY_EXT: Record<string, string> = {
  '.js': 'nodejs:24',
  '.cjs': 'nodejs:24',
  '.mjs': 'nodejs:24',
  '.py': 'python:3',
}

function readCode(file: string): Buffer {
  let st: ReturnType<typeof statSync>
  try {
    st = statSync(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new UsageError(
      code === 'ENOENT' ? `cannot read ${file}: no such file` : `cannot read ${file}: ${code}`,
    )
  }
  if (!st.isFile()) throw new UsageError(`${file} is not a file`)
  return readFileSync(file)
}

function envPairs(list: string[] | undefined, flag = '--env'): Record<string, string> | undefined {
  if (!list) return undefined
  const out: Record<string, string> = {}
  for (const item of list) {
    const i = item.indexOf('=')
    if (i <= 0) throw new UsageError(`${flag} takes NAME=VALUE, got '${item}'`)
    out[item.slice(0, i)] = item.slice(i + 1)
  }
  return out
}

/** The request body for create/update from the flags; only what was given is sent. */
export function putBody(
  mode: 'create' | 'update',
  file: string | undefined,
  o: PutOptions,
): Record<string, unknown> {
  const body: Record<string, unknown> = { mode }
  if (o.sequence !== undefined) {
    if (file) throw new UsageError('a sequence runs its components: give --sequence or a file, not both')
    body.kind = 'sequence'
    body.components = o.sequence
      .split(',')
      .map((c) => c.trim())
      .filter((c) => c.length > 0)
  }
  if (file) {
    const code = readCode(file)
    body.code = code.toString('base64')
    const ext = extname(file).toLowerCase()
    if (ext === '.zip') body.binary = true
    if (!o.kind && KIND_BY_EXT[ext] && mode === 'create') body.kind = KIND_BY_EXT[ext]
  }
  if (o.kind) body.kind = o.kind
  if (o.image) {
    body.image = o.image
    if (!o.kind && mode === 'create') body.kind = 'blackbox'
  }
  if (o.main) body.main = o.main
  if (o.binary !== undefined) body.binary = o.binary
  if (o.waitReplicas !== undefined) body.waitReplicas = o.waitReplicas
  if (o.param || o.paramFile) {
    body.parameters = {
      ...(o.paramFile ? readJsonFile(o.paramFile, '-P') : {}),
      ...pairsToObject(o.param, '-p'),
    }
  }
  if (o.annotation) body.annotations = pairsToObject(o.annotation, '-a')
  const env = envPairs(o.env)
  if (env) body.env = env
  if (o.secretParam) body.secretParameters = pairsToObject(o.secretParam, '--secret-param')
  const secretEnv = envPairs(o.secretEnv, '--secret-env')
  if (secretEnv) body.secretEnv = secretEnv
  const limits: Record<string, number> = {}
  if (o.memory !== undefined) limits.memory = o.memory
  if (o.timeout !== undefined) limits.timeout = o.timeout
  if (o.concurrency !== undefined) limits.concurrency = o.concurrency
  if (o.logs !== undefined) limits.logs = o.logs
  if (Object.keys(limits).length) body.limits = limits
  if (mode === 'create' && !body.kind) {
    throw new UsageError(
      `cannot tell the kind of ${file ?? 'the function'}: pass --kind nodejs:24, python:3 or blackbox`,
    )
  }
  return body
}

function addPutOptions(cmd: Command): Command {
  return cmd
    .option('-k, --kind <kind>', 'nodejs:24, python:3 or blackbox (default from the file extension)')
    .option('--main <name>', 'the function to call (default main)')
    .option('-p, --param <keyValue...>', 'default parameter KEY VALUE (JSON or string); repeatable', collect)
    .option('-P, --param-file <file>', 'default parameters from a JSON file')
    .option(
      '-a, --annotation <keyValue...>',
      'annotation KEY VALUE; repeatable (e.g. -a retry true)',
      collect,
    )
    .option('--env <name=value...>', 'environment variable for the function; repeatable', collect)
    .option(
      '--secret-param <keyValue...>',
      'secret parameter KEY VALUE: stored encrypted, shown redacted; repeatable (given, they replace the previous ones)',
      collect,
    )
    .option(
      '--secret-env <name=value...>',
      'secret environment variable, stored encrypted; repeatable',
      collect,
    )
    .option('-m, --memory <MiB>', 'memory limit in MiB (128–2048, default 256)', positiveInt('--memory'))
    .option('-t, --timeout <ms>', 'time limit in ms (100–300000, default 60000)', positiveInt('--timeout'))
    .option(
      '-c, --concurrency <n>',
      'activations one container runs at once, 1–500 (1; above 1: nodejs only)',
      positiveInt('--concurrency'),
    )
    .option('-l, --logs <MiB>', 'log size limit in MiB (0–10, default 10)', positiveInt('--logs'))
    .option('--image <image>', 'a Docker image for kind blackbox')
    .option('--sequence <a,b,c>', 'a sequence of these functions, run in order (no file)')
    .addOption(new Option('--binary', 'treat the file as a zip (default: detected)'))
    .option(
      '--wait-replicas <n>',
      'answer once N nodes hold the new version and its code',
      positiveInt('--wait-replicas'),
    )
}

function showFunction(fn: FunctionRecord): void {
  printFields([
    ['name', fn.name],
    ['namespace', fn.namespace],
    ['version', fn.version],
    ['kind', fn.kind],
    ['main', fn.main],
    ...(fn.components ? [['components', fn.components.join(', ')] as [string, unknown]] : []),
    ...(fn.image ? [['image', fn.image] as [string, unknown]] : []),
    [
      'code',
      fn.codeHash
        ? `${fn.codeSize} bytes${fn.binary ? ' (zip)' : ''} sha256:${fn.codeHash.slice(0, 12)}`
        : '-',
    ],
    [
      'limits',
      `memory ${fn.limits.memory} MiB, timeout ${fn.limits.timeout} ms, concurrency ${fn.limits.concurrency}, logs ${fn.limits.logs} MiB`,
    ],
    ['parameters', fn.parameters],
    ...(fn.secrets ? [['secrets', fn.secrets] as [string, unknown]] : []),
    ['annotations', fn.annotations],
    ['origin', fn.origin],
  ])
}

export function registerFnCommands(program: Command): void {
  const fn = program.command('fn').alias('action').description('deploy and manage functions')

  for (const mode of ['create', 'update'] as const) {
    addPutOptions(
      fn
        .command(`${mode} <name> [file]`)
        .description(
          mode === 'create'
            ? 'deploy a new function from a source file or zip, or a sequence of functions'
            : 'deploy a new version',
        ),
    ).action(async (name: string, file: string | undefined, o: PutOptions, cmd: Command) => {
      const body = putBody(mode, file, o)
      const { status, body: rec } = await clientFor(cmd).call<FunctionRecord & { copies?: number }>(
        'PUT',
        `/v1/functions/${encodeURIComponent(name)}`,
        body,
      )
      if (wantsJson(cmd)) printJson(rec)
      else {
        const copies = rec.copies === undefined ? '' : `, on ${rec.copies} nodes`
        process.stdout.write(
          `${status === 201 ? 'created' : 'updated'} function ${rec.name} (version ${rec.version}, ${rec.kind}${copies})\n`,
        )
      }
    })
  }

  fn.command('get <name>')
    .description('show a function (secret values redacted unless --show-secrets)')
    .option('--show-secrets', 'show secret parameters and env in clear')
    .action(async (name: string, o: { showSecrets?: boolean }, cmd: Command) => {
      const q = o.showSecrets ? '?showSecrets=true' : ''
      const rec = await clientFor(cmd).get<FunctionRecord>(`/v1/functions/${encodeURIComponent(name)}${q}`)
      if (wantsJson(cmd)) printJson(rec)
      else showFunction(rec)
    })

  fn.command('delete <name>')
    .description('delete a function and every version of it')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const rec = await clientFor(cmd).call<FunctionRecord>(
        'DELETE',
        `/v1/functions/${encodeURIComponent(name)}`,
      )
      if (wantsJson(cmd)) printJson(rec.body)
      else process.stdout.write(`deleted function ${name}\n`)
    })

  fn.command('versions <name>')
    .description('list every version of a function (name@N invokes one)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const list = await clientFor(cmd).get<FunctionRecord[]>(
        `/v1/functions/${encodeURIComponent(name)}/versions`,
      )
      if (wantsJson(cmd)) return printJson(list)
      printTable(
        ['version', 'kind', 'updated', 'code', 'origin'],
        list.map((f) => [f.version, f.kind, f.updated, f.codeHash ? f.codeHash.slice(0, 12) : '-', f.origin]),
      )
    })

  fn.command('rollback <name> <version>')
    .description('make version N current again (as a new version with its content, on every node)')
    .action(async (name: string, version: string, _o: unknown, cmd: Command) => {
      if (!/^\d+$/.test(version)) throw new UsageError(`'${version}' is not a version number`)
      const { body: rec } = await clientFor(cmd).call<FunctionRecord>(
        'POST',
        `/v1/functions/${encodeURIComponent(name)}/rollback`,
        { version: Number(version) },
      )
      if (wantsJson(cmd)) printJson(rec)
      else process.stdout.write(`rolled ${name} back to version ${version} (now version ${rec.version})\n`)
    })

  fn.command('list')
    .description('list functions')
    .action(async (_o: unknown, cmd: Command) => {
      const list = await clientFor(cmd).get<FunctionRecord[]>('/v1/functions')
      if (wantsJson(cmd)) return printJson(list)
      printTable(
        ['name', 'version', 'kind', 'memory', 'timeout', 'code'],
        list.map((f) => [
          f.name,
          f.version,
          f.kind,
          `${f.limits.memory} MiB`,
          `${f.limits.timeout} ms`,
          f.codeSize ? `${f.codeSize} B` : '-',
        ]),
      )
    })
}
