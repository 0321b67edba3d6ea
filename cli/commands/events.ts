import type { Command } from 'commander'
import type { RuleRecord, TriggerRecord } from '../../agent/store/index.ts'
import { clientFor, collect, pairsToObject, wantsJson } from '../context.ts'
import { printFields, printJson, printTable } from '../output.ts'

interface TriggerOptions {
  param?: string[]
  annotation?: string[]
}

const triggerPath = (name: string) => `/v1/triggers/${encodeURIComponent(name)}`
const rulePath = (name: string) => `/v1/rules/${encodeURIComponent(name)}`

function triggerBody(o: TriggerOptions): Record<string, unknown> {
  return {
    ...(o.param ? { parameters: pairsToObject(o.param, '-p') } : {}),
    ...(o.annotation ? { annotations: pairsToObject(o.annotation, '-a') } : {}),
  }
}

/** `fnagent trigger create|update|fire|get|list|delete`: OpenWhisk triggers. */
export function registerTriggerCommands(program: Command): void {
  const trigger = program
    .command('trigger')
    .description('triggers: named events that rules connect to functions')
  const options = (c: Command) =>
    c
      .option('-p, --param <key value...>', 'a default parameter (JSON value); repeatable', collect)
      .option('-a, --annotation <key value...>', 'an annotation (JSON value); repeatable', collect)
  const put = async (cmd: Command, name: string, b: Record<string, unknown>, verb: string) => {
    const { body: rec } = await clientFor(cmd).call<TriggerRecord>('PUT', triggerPath(name), b)
    if (wantsJson(cmd)) printJson(rec)
    else process.stdout.write(`${verb} trigger ${rec.name}\n`)
  }
  options(trigger.command('create <name>').description('create a trigger')).action(
    (name: string, o: TriggerOptions, cmd: Command) => put(cmd, name, triggerBody(o), 'created'),
  )
  options(trigger.command('update <name>').description('update a trigger')).action(
    (name: string, o: TriggerOptions, cmd: Command) =>
      put(cmd, name, { ...triggerBody(o), overwrite: true }, 'updated'),
  )
  trigger
    .command('fire <name>')
    .description('fire a trigger: every active rule on it runs its function asynchronously')
    .option('-p, --param <key value...>', 'a payload parameter (JSON value); repeatable', collect)
    .action(async (name: string, o: { param?: string[] }, cmd: Command) => {
      const payload = o.param ? pairsToObject(o.param, '-p') : {}
      const { body } = await clientFor(cmd).call<{ activationId: string | null }>(
        'POST',
        `${triggerPath(name)}/fire`,
        payload,
      )
      if (wantsJson(cmd)) return printJson(body)
      process.stdout.write(
        body.activationId
          ? `fired trigger ${name} with activation ${body.activationId}\n`
          : `fired trigger ${name}: no active rule, nothing ran\n`,
      )
    })
  trigger
    .command('webhook <name>')
    .description(
      "show the trigger's webhook (made on first use): a POST to its path on the OpenWhisk API with the secret in the X-Webhook-Secret header fires it, no API key needed",
    )
    .option('--rotate', 'replace the secret (the old one stops working)')
    .option('--remove', 'remove the webhook')
    .action(async (name: string, o: { rotate?: boolean; remove?: boolean }, cmd: Command) => {
      const { body } = await clientFor(cmd).call<{ path: string; secret: string; created: boolean } | null>(
        'POST',
        `${triggerPath(name)}/webhook`,
        { rotate: o.rotate === true, remove: o.remove === true },
      )
      if (wantsJson(cmd)) return printJson(body)
      if (!body) return void process.stdout.write(`removed the webhook of trigger ${name}\n`)
      printFields([
        ['path', body.path],
        ['secret', body.secret],
        ['header', 'X-Webhook-Secret'],
      ])
    })
  trigger
    .command('get <name>')
    .description('show a trigger and the rules on it')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const t = await clientFor(cmd).get<TriggerRecord & { rules: RuleRecord[] }>(triggerPath(name))
      if (wantsJson(cmd)) return printJson(t)
      printFields([
        ['name', t.name],
        ['namespace', t.namespace],
        ['version', t.version],
        ['parameters', t.parameters],
        ['annotations', t.annotations],
        ['rules', t.rules.map((r) => `${r.name} -> ${r.action.namespace}/${r.action.name} (${r.status})`)],
      ])
    })
  trigger
    .command('list')
    .description('list triggers')
    .action(async (_o: unknown, cmd: Command) => {
      const list = await clientFor(cmd).get<TriggerRecord[]>('/v1/triggers')
      if (wantsJson(cmd)) return printJson(list)
      printTable(
        ['name', 'version', 'parameters'],
        list.map((t) => [t.name, t.version, Object.keys(t.parameters).join(', ') || '-']),
      )
    })
  trigger
    .command('delete <name>')
    .description('delete a trigger (its rules stay, and fire nothing)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { body } = await clientFor(cmd).call<TriggerRecord>('DELETE', triggerPath(name))
      if (wantsJson(cmd)) printJson(body)
      else process.stdout.write(`deleted trigger ${name}\n`)
    })
}

/** `fnagent rule create|update|enable|disable|get|list|delete`: OpenWhisk rules. */
export function registerRuleCommands(program: Command): void {
  const rule = program.command('rule').description('rules: when a trigger fires, run a function')
  const show = (cmd: Command, r: RuleRecord, verb: string) => {
    if (wantsJson(cmd)) printJson(r)
    else process.stdout.write(`${verb} rule ${r.name} (${r.status})\n`)
  }
  rule
    .command('create <name> <trigger> <function>')
    .description('when TRIGGER fires, run FUNCTION (name, pkg/name or /namespace/pkg/name); active at once')
    .action(async (name: string, trigger: string, fn: string, _o: unknown, cmd: Command) => {
      const { body } = await clientFor(cmd).call<RuleRecord>('PUT', rulePath(name), { trigger, action: fn })
      show(cmd, body, 'created')
    })
  rule
    .command('update <name> <trigger> <function>')
    .description('change the trigger and function of a rule')
    .action(async (name: string, trigger: string, fn: string, _o: unknown, cmd: Command) => {
      const { body } = await clientFor(cmd).call<RuleRecord>('PUT', rulePath(name), {
        trigger,
        action: fn,
        overwrite: true,
      })
      show(cmd, body, 'updated')
    })
  for (const [verb, status] of [
    ['enable', 'active'],
    ['disable', 'inactive'],
  ] as const) {
    rule
      .command(`${verb} <name>`)
      .description(`${verb} a rule`)
      .action(async (name: string, _o: unknown, cmd: Command) => {
        const { body } = await clientFor(cmd).call<RuleRecord>('POST', `${rulePath(name)}/status`, { status })
        show(cmd, body, `${verb}d`)
      })
  }
  rule
    .command('get <name>')
    .description('show a rule')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const r = await clientFor(cmd).get<RuleRecord>(rulePath(name))
      if (wantsJson(cmd)) return printJson(r)
      printFields([
        ['name', r.name],
        ['namespace', r.namespace],
        ['status', r.status],
        ['trigger', `/${r.trigger.namespace}/${r.trigger.name}`],
        ['function', `/${r.action.namespace}/${r.action.name}`],
      ])
    })
  rule
    .command('list')
    .description('list rules')
    .action(async (_o: unknown, cmd: Command) => {
      const list = await clientFor(cmd).get<RuleRecord[]>('/v1/rules')
      if (wantsJson(cmd)) return printJson(list)
      printTable(
        ['name', 'status', 'trigger', 'function'],
        list.map((r) => [r.name, r.status, r.trigger.name, `/${r.action.namespace}/${r.action.name}`]),
      )
    })
  rule
    .command('delete <name>')
    .description('delete a rule')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { body } = await clientFor(cmd).call<RuleRecord>('DELETE', rulePath(name))
      if (wantsJson(cmd)) printJson(body)
      else process.stdout.write(`deleted rule ${name}\n`)
    })
}
