import { describe, expect, it } from 'vitest'
import { commandOf, DAEMON_ENV, DAEMON_NODE_FLAGS, missingDaemonSettings } from '../../cli/launch.ts'

describe('the command word', () => {
  it('skips global options and their values', () => {
    expect(commandOf(['--data-dir', '/d', '--json', 'start', '--no-cluster'])).toBe('start')
    expect(commandOf(['--socket', 'start', 'status'])).toBe('status')
    expect(commandOf(['--version'])).toBeUndefined()
  })
})

describe('the daemon settings bin.js adds', () => {
  it('are all missing from a bare `fnagent start`', () => {
    expect(missingDaemonSettings(['start'], [], {})).toEqual({ flags: DAEMON_NODE_FLAGS, env: DAEMON_ENV })
  })

  it('leave the other verbs alone', () => {
    expect(missingDaemonSettings(['fn', 'list'], [], {})).toBeNull()
  })

  it('give way to a flag or a variable the caller set (so the re-exec happens once)', () => {
    const env = { NODE_OPTIONS: '--max-semi-space-size=4', MALLOC_ARENA_MAX: '8' }
    expect(missingDaemonSettings(['start'], [], env)).toBeNull()
    expect(
      missingDaemonSettings(['start'], ['--max-semi-space-size=1'], { MALLOC_ARENA_MAX: '2' }),
    ).toBeNull()
  })
})
