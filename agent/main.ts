import { flushCompileCache } from 'node:module'
import { loadConfig } from './config/index.ts'
import { createLogger, type Logger } from './log.ts'
import { Agent } from './node.ts'
import { preflight } from './preflight.ts'

export interface RunAgentOptions {
  flags: Record<string, unknown>
  configFile?: string
  /** Pretty logs (true) or JSON lines (false); default: pretty on a terminal, JSON under systemd. */
  pretty?: boolean
}

/**
 * Human-readable lines when a person watches (stdout is a terminal), JSON lines otherwise: under
 * systemd (JOURNAL_STREAM is set when stdout goes to the journal), in a pipe, in a file.
 */
export function wantsPrettyLogs(
  env: NodeJS.ProcessEnv = process.env,
  isTTY: boolean = process.stdout.isTTY === true,
): boolean {
  return isTTY && !env.JOURNAL_STREAM && !env.INVOCATION_ID
}

/**
 * The daemon's entry point (`fnagent start`): loads the config, starts the agent in the
 * foreground, and owns the process concerns. The first SIGINT/SIGTERM drains and stops; a
 * second one forces the exit. Resolves with the exit code.
 */
export async function runAgent(opts: RunAgentOptions): Promise<number> {
  const config = loadConfig({ flags: opts.flags, configFile: opts.configFile })
  const logger: Logger = createLogger({ level: config.logLevel, pretty: opts.pretty ?? wantsPrettyLogs() })
  // Nothing starts (no invoker, no container, no port) unless everything a start needs is there.
  try {
    await preflight(config, logger)
  } catch (err) {
    logger.flush()
    throw err
  }
  let stopping = false
  let signalled: (() => void) | null = null
  const stopRequested = new Promise<void>((resolve) => {
    signalled = resolve
  })
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now')
      process.exit(130)
    }
    stopping = true
    logger.info({ signal, drainMs: config.drainMs }, 'stopping: draining in-flight work')
    signalled?.()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  let agent: Agent
  try {
    agent = await Agent.init({ logger }, config)
    await agent.start()
    // Everything the daemon loads at start is loaded: write the compile cache now (cli/bin.js), not
    // only at a clean exit, which a kill -9 or a crash never reaches.
    flushCompileCache()
  } catch (err) {
    logger.flush()
    throw err
  }
  await stopRequested
  await agent.stop()
  logger.flush()
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  exitWhenIdle(logger, 0)
  return 0
}

/**
 * Everything is stopped, so the process should end on its own once its last callbacks ran. If a
 * handle still holds it (a socket or timer some library kept), it would live on as a zombie
 * daemon that systemd or a test has to kill: name what holds it, then exit anyway.
 */
function exitWhenIdle(logger: Logger, code: number, graceMs = 5_000): void {
  setTimeout(() => {
    logger.error(
      { code, resources: process.getActiveResourcesInfo() },
      'stopped, but open handles keep the process alive: exiting',
    )
    logger.flush(() => process.exit(code))
  }, graceMs).unref()
}
