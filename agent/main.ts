import { flushCompileCache } from 'node:module'
import { loadConfig } from './config/index.ts'
import { createLogger, type Logger } from './log.ts'
import { Agent } from './node.ts'

export interface RunAgentOptions {
  flags: Record<string, unknown>
  configFile?: string
  /** Pretty logs for a terminal; JSON lines otherwise. */
  pretty?: boolean
}

/**
 * The daemon's entry point (`fnagent start`): loads the config, starts the agent in the
 * foreground, and owns the process concerns. The first SIGINT/SIGTERM drains and stops; a
 * second one forces the exit. Resolves with the exit code.
 */
export async function runAgent(opts: RunAgentOptions): Promise<number> {
  const config = loadConfig({ flags: opts.flags, configFile: opts.configFile })
  const logger: Logger = createLogger({ level: config.logLevel, pretty: opts.pretty })
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
  return 0
}
