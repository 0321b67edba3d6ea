/**
 * What cli/bin.js decides before the CLI loads: which command runs, and the Node flags and
 * environment the daemon (`fnagent start`) runs with however it was launched (bin.js applies them).
 * Measured in docs/performance.md (Cluster, idle runs).
 */

/**
 * `--max-semi-space-size=1` (MiB): V8 sizes the young generation for throughput and, once grown,
 * keeps it (16 MiB semi-spaces: about 50 MiB of RSS in an agent of a ten-node cluster). The agent
 * idles most of the time and allocates little and briefly; a 1 MiB semi-space means more frequent,
 * shorter scavenges. The Ansible unit has run the agent with it since the first rollout.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1']

/**
 * `MALLOC_ARENA_MAX=2`: glibc gives every thread that allocates (libuv's pool running LevelDB and
 * crypto work, V8's helpers) an arena of its own, which it seldom returns; two are enough for one
 * JavaScript thread (about 4 MiB of RSS). Other C libraries ignore it.
 */
export const DAEMON_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' }

/** Global options of the CLI that take a value (skipped when looking for the command word). */
const VALUE_OPTIONS = new Set(['--data-dir', '--socket'])

/** The command word of a `fnagent …` argument list (`start`, `fn`, …), if any. */
export function commandOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string
    if (VALUE_OPTIONS.has(a)) i++
    else if (!a.startsWith('-')) return a
  }
  return undefined
}

/**
 * The daemon flags and environment this process lacks, or null when it has them all or runs
 * another command. A flag given in NODE_OPTIONS or on the command line, or a variable already
 * set, wins over the daemon's.
 */
export function missingDaemonSettings(
  args: readonly string[],
  execArgv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): { flags: string[]; env: Record<string, string> } | null {
  if (commandOf(args) !== 'start') return null
  const name = (flag: string) => flag.split('=')[0]
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].map(name)
  const flags = DAEMON_NODE_FLAGS.filter((f) => !given.includes(name(f)))
  const missingEnv = Object.entries(DAEMON_ENV).filter(([k]) => env[k] === undefined)
  if (flags.length === 0 && missingEnv.length === 0) return null
  return { flags, env: Object.fromEntries(missingEnv) }
}
