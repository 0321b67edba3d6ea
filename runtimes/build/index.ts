// The offline runtime image builder: a Debian root filesystem from debootstrap (made once, cached),
// plus the runtime's interpreter and action proxy, loaded with `docker import`. Images carry a content
// hash label, so building an unchanged runtime again is instant.
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import type Dockerode from 'dockerode'
import { assembleTar, importTar, inspectImage, stageFiles, withTimeout } from './image.ts'
import { withLock } from './lock.ts'
import { basePath, ensureBase, SUITE } from './rootfs.ts'
import {
  KIND_LABEL,
  RUNTIME_KINDS,
  type RuntimeKind,
  type RuntimeSpec,
  runtimeHash,
  specFor,
} from './specs.ts'

export { imageFor, isRuntimeKind, RUNTIME_KINDS, type RuntimeKind } from './specs.ts'

export interface BuildProgress {
  kind: RuntimeKind
  step: string
  done: number
  total: number
  message?: string
}

export interface BuildOptions {
  docker: Dockerode
  onProgress?: (p: BuildProgress) => void
  signal?: AbortSignal
  /** Where the base root filesystems are cached (default `$FNAGENT_CACHE_DIR` or `~/.cache/fnagent`). */
  cacheDir?: string
  /** Rebuild the image even when it is up to date (the cached base root filesystem is reused). */
  force?: boolean
}

export interface BuiltRuntime {
  kind: RuntimeKind
  image: string
  hash: string
  cached: boolean
}

export interface RuntimeStatus {
  kind: RuntimeKind
  image: string
  present: boolean
  upToDate: boolean
  hash?: string
  sizeBytes?: number
  created?: string
}

export const BUILD_STEPS = ['base rootfs', 'add interpreter', 'add proxy', 'import'] as const

export function defaultCacheDir(): string {
  if (process.env.FNAGENT_CACHE_DIR) return resolve(process.env.FNAGENT_CACHE_DIR)
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'fnagent')
}

async function buildOne(
  spec: RuntimeSpec,
  hash: string,
  opts: BuildOptions,
  cacheDir: string,
): Promise<void> {
  const total = BUILD_STEPS.length
  const progress = (done: number, message?: string) =>
    opts.onProgress?.({ kind: spec.kind, step: BUILD_STEPS[done] ?? 'done', done, total, message })
  const cachedBase = await stat(basePath(cacheDir, spec.packages)).then(
    () => true,
    () => false,
  )
  const what = `${SUITE} minbase + ${spec.packages.join(', ')}`
  progress(0, cachedBase ? `${what} (cached)` : `debootstrap ${what}`)
  const base = await ensureBase(spec.packages, {
    cacheDir,
    signal: opts.signal,
    onLine: (line) => line.startsWith('I: ') && progress(0, line.slice(3)),
  })
  const work = await mkdtemp(join(cacheDir, 'image-'))
  try {
    const stage = join(work, 'stage')
    progress(1, spec.interpreter ? `${spec.interpreter.to} from ${spec.interpreter.from}` : 'from Debian')
    if (spec.interpreter) await stageFiles(stage, [spec.interpreter])
    progress(2, `${spec.proxy.length} files under /srv`)
    await stageFiles(stage, spec.proxy)
    const files = spec.interpreter ? [spec.interpreter, ...spec.proxy] : spec.proxy
    const tar = join(work, 'image.tar')
    await assembleTar(base.path, stage, files, tar, opts.signal)
    progress(3, `docker import as ${spec.image}`)
    await importTar(opts.docker, tar, spec, hash, opts.signal)
    progress(4, spec.image)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/** Drops runtime images that rebuilds replaced (untagged), except those containers still use. */
async function pruneReplaced(docker: Dockerode): Promise<void> {
  const filters = { label: [KIND_LABEL], dangling: ['true'] }
  const old = await withTimeout(docker.listImages({ filters }), 15_000, 'list replaced runtime images')
  for (const image of old) {
    await withTimeout(docker.getImage(image.Id).remove(), 30_000, `remove ${image.Id}`).catch(() => {})
  }
}

async function buildOrReuse(kind: RuntimeKind, opts: BuildOptions, cacheDir: string): Promise<BuiltRuntime> {
  const spec = specFor(kind)
  const hash = await runtimeHash(spec)
  const current = await inspectImage(opts.docker, spec.image)
  if (!opts.force && current?.hash === hash) {
    const total = BUILD_STEPS.length
    opts.onProgress?.({ kind, step: 'cached', done: total, total, message: spec.image })
    return { kind, image: spec.image, hash, cached: true }
  }
  await buildOne(spec, hash, opts, cacheDir)
  await pruneReplaced(opts.docker).catch(() => {})
  return { kind, image: spec.image, hash, cached: false }
}

/**
 * Builds the runtime images of `kinds` (in order); an up-to-date image is kept unless `force`.
 * Builds sharing a cache dir take turns (a lock file), so parallel test files or CLIs do not collide.
 */
export async function buildRuntimes(kinds: RuntimeKind[], opts: BuildOptions): Promise<BuiltRuntime[]> {
  const cacheDir = opts.cacheDir ? resolve(opts.cacheDir) : defaultCacheDir()
  await mkdir(cacheDir, { recursive: true })
  const onWait = (pid: number) => {
    const total = BUILD_STEPS.length
    if (kinds[0])
      opts.onProgress?.({ kind: kinds[0], step: 'waiting', done: 0, total, message: `for build ${pid}` })
  }
  const buildAll = async () => {
    const out: BuiltRuntime[] = []
    for (const kind of kinds) {
      opts.signal?.throwIfAborted()
      out.push(await buildOrReuse(kind, opts, cacheDir))
    }
    return out
  }
  return withLock(join(cacheDir, 'build.lock'), buildAll, { signal: opts.signal, onWait })
}

/** Builds only the runtimes whose image is missing or stale (all kinds unless `kinds`). */
export async function ensureRuntimes(
  docker: Dockerode,
  opts: Omit<BuildOptions, 'docker' | 'force'> & { kinds?: RuntimeKind[] } = {},
): Promise<BuiltRuntime[]> {
  return buildRuntimes(opts.kinds ?? [...RUNTIME_KINDS], { ...opts, docker, force: false })
}

/** Each runtime's image: present, up to date with this checkout's sources, size and creation time. */
export async function listRuntimes(docker: Dockerode): Promise<RuntimeStatus[]> {
  const out: RuntimeStatus[] = []
  for (const kind of RUNTIME_KINDS) {
    const spec = specFor(kind)
    const [hash, info] = await Promise.all([runtimeHash(spec), inspectImage(docker, spec.image)])
    if (!info) {
      out.push({ kind, image: spec.image, present: false, upToDate: false })
      continue
    }
    out.push({
      kind,
      image: spec.image,
      present: true,
      upToDate: info.hash === hash,
      hash: info.hash,
      sizeBytes: info.sizeBytes,
      created: info.created,
    })
  }
  return out
}
