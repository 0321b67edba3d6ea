import type { Command } from 'commander'
import type { ApiKeyInfo } from '../../agent/api/openwhisk/index.ts'
import { clientFor, wantsJson } from '../context.ts'
import { isoTime, printJson, printTable } from '../output.ts'

/** `fnagent auth create|list|revoke`: API keys of the OpenWhisk REST API (`uuid:key`, basic auth). */
export function registerAuthCommands(program: Command): void {
  const auth = program
    .command('auth')
    .description('API keys for the OpenWhisk REST API: create, list, revoke')

  auth
    .command('create')
    .description(
      "create an API key in a namespace (--namespace, default the agent's); the key is shown once, only its hash is stored (and replicated)",
    )
    .option('--description <text>', 'what the key is for')
    .action(async (o: { description?: string }, cmd: Command) => {
      const client = clientFor(cmd)
      const res = await client.call<ApiKeyInfo & { auth: string; apihost: string | null }>(
        'POST',
        '/v1/auth/keys',
        {
          ...(o.description ? { description: o.description } : {}),
          ...(client.namespace ? { namespace: client.namespace } : {}),
        },
      )
      const key = res.body
      if (wantsJson(cmd)) {
        printJson(key)
        return
      }
      process.stdout.write(`${key.auth}\n`)
      process.stderr.write(
        `created API key ${key.uuid} in namespace ${key.namespace}; it is shown only now. Use it with wsk:\n` +
          `  wsk property set --apihost ${key.apihost ?? 'http://HOST:PORT'} --auth ${key.auth}\n` +
          (key.apihost
            ? ''
            : '(the agent has no OpenWhisk API listener; start it with --api-listen HOST:PORT)\n'),
      )
    })

  auth
    .command('list')
    .description('list API keys (never the keys themselves)')
    .action(async (_o: unknown, cmd: Command) => {
      const keys = await clientFor(cmd).get<ApiKeyInfo[]>('/v1/auth/keys')
      if (wantsJson(cmd)) printJson(keys)
      else
        printTable(
          ['uuid', 'namespace', 'created', 'status', 'description'],
          keys.map((k) => [
            k.uuid,
            k.namespace,
            isoTime(k.created),
            k.revoked ? `revoked ${isoTime(k.revoked)}` : 'active',
            k.description,
          ]),
        )
    })

  auth
    .command('revoke <uuid>')
    .description('revoke an API key at once')
    .action(async (uuid: string, _o: unknown, cmd: Command) => {
      const res = await clientFor(cmd).call<ApiKeyInfo>('DELETE', `/v1/auth/keys/${encodeURIComponent(uuid)}`)
      if (wantsJson(cmd)) printJson(res.body)
      else process.stdout.write(`revoked API key ${uuid}\n`)
    })
}
