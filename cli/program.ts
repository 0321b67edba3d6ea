import { Command, CommanderError } from 'commander'
import { FnError } from '../agent/errors.ts'
import { AGENT_VERSION } from '../agent/version.ts'
import { ApiError, NoAgentError } from './client.ts'
import { registerStartCommand } from './commands/start.ts'
import { UsageError } from './context.ts'
import { commandOf } from './launch.ts'

/** The commander program for `argv` (`process.argv`-shaped). */
export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('fnagent')
    .description(
      'peer-to-peer serverless agent: OpenWhisk-compatible functions on a cluster with no controller',
    )
    .version(AGENT_VERSION)
    .option('--data-dir <dir>', 'the agent data directory (default $FNAGENT_DATA_DIR or ~/.fnagent)')
    .option('--socket <path>', 'the agent API socket (default $FNAGENT_SOCKET or <data dir>/fnagent.sock)')
    .option('--json', 'machine-readable output')
    .option(
      '--namespace <ns>',
      "act on this namespace (default $FNAGENT_NAMESPACE or the agent's own); auth create: the key's namespace",
    )
    .showHelpAfterError()
    .exitOverride()
  registerStartCommand(program)
  // The daemon loads none of the other verbs: their modules (a Docker client, tables, progress
  // bars) would stay resident for its whole life.
  if (commandOf(argv.slice(2)) !== 'start') (await import('./commands/index.ts')).registerCommands(program)
  return program
}

/** The exit code of `fnagent start` when something a start needs is missing (sysexits EX_CONFIG). */
export const EXIT_START_PRECONDITION = 78

/** Runs the CLI; user mistakes print one line without a stack, bugs print the stack. */
export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv)
  try {
    await program.parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode
    if (err instanceof ApiError) {
      process.stderr.write(`error: ${err.message} [${err.code}]\n`)
      return 1
    }
    if (err instanceof NoAgentError || err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n`)
      return 2
    }
    if (err instanceof FnError && err.expose) {
      process.stderr.write(`error: ${err.message} [${err.code}]\n`)
      // EX_CONFIG: the unit does not restart an agent that cannot start until someone fixes it.
      return err.code === 'START_PRECONDITION' ? EXIT_START_PRECONDITION : 1
    }
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
    return 70
  }
}
