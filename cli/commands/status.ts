import type { Command } from 'commander'
import { NoAgentError } from '../client.ts'
import { clientFor, type GlobalOptions, wantsJson } from '../context.ts'
import { printFields, printJson } from '../output.ts'

export function registerStatusCommands(program: Command): void {
  program
    .command('status')
    .description('this node and what it sees of the cluster')
    .action(async (_o: unknown, cmd: Command) => {
      const status = await clientFor(cmd).get<Record<string, unknown>>('/v1/status')
      if (wantsJson(cmd)) return printJson(status)
      printFields(Object.entries(status))
    })

  program
    .command('config')
    .description("the effective configuration (the running agent's, else computed from file and environment)")
    .option('--config <file>', 'config file (default <data dir>/config.json)')
    .action(async (o: { config?: string }, cmd: Command) => {
      let config: unknown
      try {
        config = await clientFor(cmd).get('/v1/config')
      } catch (err) {
        if (!(err instanceof NoAgentError)) throw err
        const g = cmd.optsWithGlobals<GlobalOptions>()
        // The config schema (zod) is loaded only here, where it is needed.
        const { loadConfig } = await import('../../agent/config/index.ts')
        config = loadConfig({ flags: { dataDir: g.dataDir, socket: g.socket }, configFile: o.config })
        process.stderr.write('(no agent running: showing the config a start would use)\n')
      }
      printJson(config)
    })
}
