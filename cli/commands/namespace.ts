import type { Command } from 'commander'
import type { NamespaceLimits } from '../../agent/store/index.ts'
import { clientFor, positiveInt, wantsJson } from '../context.ts'
import { printFields, printJson } from '../output.ts'

/** `fnagent namespace limits NS [--concurrent N] [--per-minute M]`: shows or sets a namespace's limits. */
export function registerNamespaceCommands(program: Command): void {
  const ns = program.command('namespace').description("namespaces: their limits (keys: 'fnagent auth')")
  ns.command('limits <namespace>')
    .description(
      'show the limits of a namespace, or set them (given together, they replace the previous ones), on every node',
    )
    .option('--concurrent <n>', 'activations in flight in the cluster', positiveInt('--concurrent'))
    .option('--per-minute <n>', 'invocations a minute in the cluster', positiveInt('--per-minute'))
    .option('--none', 'remove every limit')
    .action(
      async (name: string, o: { concurrent?: number; perMinute?: number; none?: boolean }, cmd: Command) => {
        const client = clientFor(cmd)
        const path = `/v1/namespaces/${encodeURIComponent(name)}/limits`
        const set = o.none || o.concurrent !== undefined || o.perMinute !== undefined
        const limits = set
          ? (
              await client.call<NamespaceLimits>('PUT', path, {
                ...(o.concurrent !== undefined ? { concurrent: o.concurrent } : {}),
                ...(o.perMinute !== undefined ? { perMinute: o.perMinute } : {}),
              })
            ).body
          : await client.get<NamespaceLimits>(path)
        if (wantsJson(cmd)) printJson(limits)
        else
          printFields([
            ['namespace', name],
            ['concurrent', limits.concurrent ?? 'no limit'],
            ['per minute', limits.perMinute ?? 'no limit'],
          ])
      },
    )
}
