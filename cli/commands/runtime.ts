import type { SingleBar } from 'cli-progress'
import type { Command } from 'commander'
import type Dockerode from 'dockerode'
import type { BuildProgress } from '../../runtimes/build/index.ts'
import { isRuntimeKind, RUNTIME_KINDS, type RuntimeKind } from '../../runtimes/build/specs.ts'
import { UsageError, wantsJson } from '../context.ts'
import { isoTime, printJson, printTable } from '../output.ts'

// The image builder, dockerode (with gRPC, protobuf and ssh2 behind it) and the progress bar are
// loaded by the verbs that use them, not by every `fnagent` start.
const builder = () => import('../../runtimes/build/index.ts')

/** `nodejs:24`, or just `nodejs` / `python` for the one version this agent ships. */
function parseKinds(names: string[]): RuntimeKind[] {
  if (names.length === 0) return [...RUNTIME_KINDS]
  return names.map((name) => {
    const kind = isRuntimeKind(name) ? name : RUNTIME_KINDS.find((k) => k.split(':')[0] === name)
    if (!kind) throw new UsageError(`unknown runtime kind "${name}" (known: ${RUNTIME_KINDS.join(', ')})`)
    return kind
  })
}

async function connect(): Promise<Dockerode> {
  const [{ default: Dockerode }, { withTimeout }] = await Promise.all([
    import('dockerode'),
    import('../../runtimes/build/image.ts'),
  ])
  const docker = new Dockerode()
  try {
    await withTimeout(docker.ping(), 5000, 'docker ping')
  } catch (err) {
    throw new UsageError(`cannot reach the Docker engine (/var/run/docker.sock): ${(err as Error).message}`)
  }
  return docker
}

/** A progress bar per kind on a terminal; one line per step otherwise (logs, CI). */
async function progressReporter(): Promise<{ onProgress: (p: BuildProgress) => void; stop: () => void }> {
  if (!process.stdout.isTTY) {
    let last = ''
    return {
      onProgress: (p) => {
        const line =
          p.step === 'cached'
            ? `${p.kind}: up to date (cached)`
            : `${p.kind}: [${p.done}/${p.total}] ${p.step}`
        if (line === last) return
        last = line
        process.stdout.write(`${line}${p.message && p.step !== 'cached' ? ` - ${p.message}` : ''}\n`)
      },
      stop: () => {},
    }
  }
  const { SingleBar } = await import('cli-progress')
  let bar: SingleBar | undefined
  let kind: string | undefined
  const stop = () => {
    bar?.stop()
    bar = undefined
  }
  return {
    onProgress: (p) => {
      if (p.kind !== kind) {
        stop()
        kind = p.kind
        bar = new SingleBar({ format: '{kind} [{bar}] {value}/{total} {step} {message}', hideCursor: true })
        bar.start(p.total, p.done, { kind: p.kind, step: p.step, message: '' })
      }
      const message = p.step === 'cached' ? '(up to date, cached)' : (p.message ?? '').slice(0, 60)
      bar?.update(p.done, { step: p.step, message })
    },
    stop,
  }
}

export function registerRuntimeCommands(program: Command): void {
  const runtime = program
    .command('runtime')
    .description('the runtime images actions run in (built locally from Debian, no registry needed)')

  runtime
    .command('build')
    .description('build the runtime images that are missing or out of date (needs root the first time)')
    .argument('[kind...]', `runtime kinds (default: all of ${RUNTIME_KINDS.join(', ')})`)
    .option('--force', 'rebuild even an up-to-date image (the cached Debian base is reused)')
    .option(
      '--cache-dir <dir>',
      'where base root filesystems are cached (default $FNAGENT_CACHE_DIR or ~/.cache/fnagent)',
    )
    .action(async (names: string[], o: { force?: boolean; cacheDir?: string }, cmd: Command) => {
      const kinds = parseKinds(names)
      const docker = await connect()
      const json = wantsJson(cmd)
      const reporter = json ? { onProgress: () => {}, stop: () => {} } : await progressReporter()
      const abort = new AbortController()
      const onSigint = () => abort.abort(new Error('interrupted'))
      process.once('SIGINT', onSigint)
      const started = Date.now()
      try {
        const { buildRuntimes } = await builder()
        const built = await buildRuntimes(kinds, {
          docker,
          force: o.force,
          cacheDir: o.cacheDir,
          signal: abort.signal,
          onProgress: reporter.onProgress,
        })
        reporter.stop()
        if (json) return printJson(built)
        for (const b of built) {
          const how = b.cached ? 'up to date (cached)' : 'built'
          process.stdout.write(`${b.image}  ${how}  hash ${b.hash.slice(0, 12)}\n`)
        }
        process.stdout.write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
      } finally {
        reporter.stop()
        process.off('SIGINT', onSigint)
      }
    })

  runtime
    .command('list')
    .description('the runtime images on this host: present, up to date with this agent, size')
    .action(async (_o: unknown, cmd: Command) => {
      const { listRuntimes } = await builder()
      const runtimes = await listRuntimes(await connect())
      if (wantsJson(cmd)) return printJson(runtimes)
      printTable(
        ['KIND', 'IMAGE', 'PRESENT', 'UP TO DATE', 'SIZE', 'CREATED'],
        runtimes.map((r) => [
          r.kind,
          r.image,
          r.present ? 'yes' : 'no',
          r.present ? (r.upToDate ? 'yes' : 'no (run `fnagent runtime build`)') : '',
          r.sizeBytes === undefined ? '' : `${(r.sizeBytes / 1e6).toFixed(0)} MB`,
          r.created ? isoTime(Date.parse(r.created)) : '',
        ]),
      )
    })
}
