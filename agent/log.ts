import { type Logger, pino } from 'pino'

export type { Logger }

export interface LoggerInit {
  level?: string
  /** Pretty, human-readable lines (for a terminal); JSON lines otherwise. */
  pretty?: boolean
  /** Where to write: a file descriptor (default 1, stdout). */
  fd?: number
  base?: Record<string, unknown>
}

/** Builds the agent's root logger. Services receive `logger.child({ component })`, never a global. */
export function createLogger(init: LoggerInit = {}): Logger {
  const level = init.level ?? 'info'
  if (init.pretty) {
    return pino(
      { level, base: init.base ?? null },
      pino.transport({
        target: 'pino-pretty',
        options: { destination: init.fd ?? 1, translateTime: 'SYS:HH:MM:ss.l' },
      }),
    )
  }
  return pino({ level, base: init.base ?? null }, pino.destination({ fd: init.fd ?? 1, sync: false }))
}

/** A logger that discards everything, for unit tests and one-shot tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
