import type { Command } from 'commander'
import type { PackageRecord } from '../../agent/store/index.ts'
import { clientFor, collect, pairsToObject, UsageError, wantsJson } from '../context.ts'
import { printFields, printJson, printTable } from '../output.ts'

interface PackageOptions {
  param?: string[]
  annotation?: string[]
  shared?: string
}

const path = (name: string) => `/v1/packages/${encodeURIComponent(name)}`

/** `/ns/pkg`, `ns/pkg` or `pkg` (this namespace) → the package a binding names. */
function bindingTarget(ref: string): { namespace?: string; name: string } {
  const parts = ref.replace(/^\//, '').split('/')
  if (parts.length === 1) return { name: parts[0]! }
  if (parts.length === 2) return { namespace: parts[0]!, name: parts[1]! }
  throw new UsageError(`'${ref}' is not a package: write PACKAGE or /NAMESPACE/PACKAGE`)
}

function body(o: PackageOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (o.param) out.parameters = pairsToObject(o.param, '-p')
  if (o.annotation) out.annotations = pairsToObject(o.annotation, '-a')
  if (o.shared !== undefined) {
    if (o.shared !== 'yes' && o.shared !== 'no') throw new UsageError('--shared takes yes or no')
    out.publish = o.shared === 'yes'
  }
  return out
}

function show(p: PackageRecord): void {
  printFields([
    ['name', p.name],
    ['namespace', p.namespace],
    ['version', p.version],
    ['shared', p.publish],
    ...(p.binding ? [['binding', `/${p.binding.namespace}/${p.binding.name}`] as [string, unknown]] : []),
    ['parameters', p.parameters],
    ['annotations', p.annotations],
  ])
}

/** `fnagent package create|update|bind|get|list|delete`: OpenWhisk packages and bindings. */
export function registerPackageCommands(program: Command): void {
  const pkg = program.command('package').description('packages of functions (pkg/name) and bindings')
  const options = (c: Command) =>
    c
      .option('-p, --param <key value...>', 'a default parameter (JSON value); repeatable', collect)
      .option('-a, --annotation <key value...>', 'an annotation (JSON value); repeatable', collect)
  const put = async (cmd: Command, name: string, b: Record<string, unknown>, verb: string) => {
    const { body: rec } = await clientFor(cmd).call<PackageRecord>('PUT', path(name), b)
    if (wantsJson(cmd)) printJson(rec)
    else process.stdout.write(`${verb} package ${rec.name} (version ${rec.version})\n`)
  }

  options(pkg.command('create <name>').description('create a package'))
    .option('--shared <yes|no>', 'publish it: other namespaces may bind to it')
    .action((name: string, o: PackageOptions, cmd: Command) => put(cmd, name, body(o), 'created'))
  options(pkg.command('update <name>').description('update a package or binding'))
    .option('--shared <yes|no>', 'publish it: other namespaces may bind to it')
    .action((name: string, o: PackageOptions, cmd: Command) =>
      put(cmd, name, { ...body(o), overwrite: true }, 'updated'),
    )
  options(
    pkg
      .command('bind <package> <name>')
      .description('bind NAME to PACKAGE (/NAMESPACE/PACKAGE for a shared one)'),
  ).action(async (target: string, name: string, o: PackageOptions, cmd: Command) => {
    const t = bindingTarget(target)
    const namespace = t.namespace ?? clientFor(cmd).namespace ?? '_'
    await put(cmd, name, { ...body(o), binding: { namespace, name: t.name } }, 'created binding')
  })

  pkg
    .command('get <name>')
    .description('show a package or binding')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const rec = await clientFor(cmd).get<PackageRecord>(path(name))
      if (wantsJson(cmd)) printJson(rec)
      else show(rec)
    })

  pkg
    .command('list')
    .description('list packages and bindings')
    .action(async (_o: unknown, cmd: Command) => {
      const list = await clientFor(cmd).get<PackageRecord[]>('/v1/packages')
      if (wantsJson(cmd)) return printJson(list)
      printTable(
        ['name', 'version', 'shared', 'binding'],
        list.map((p) => [
          p.name,
          p.version,
          p.publish,
          p.binding ? `/${p.binding.namespace}/${p.binding.name}` : '-',
        ]),
      )
    })

  pkg
    .command('delete <name>')
    .description('delete a package (it must hold no functions) or a binding')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const rec = await clientFor(cmd).call<PackageRecord>('DELETE', path(name))
      if (wantsJson(cmd)) printJson(rec.body)
      else process.stdout.write(`deleted package ${name}\n`)
    })
}
