import { createHash } from 'node:crypto'
import { appendFile, mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { debianMirror } from './mirror.ts'
import { run } from './spawn.ts'

export const SUITE = 'bookworm'
/** Bump when the base root filesystem is made differently: every cached base is rebuilt. */
const ROOTFS_VERSION = 1

/** Cheap to strip and never needed by an action. */
const STRIP = ['var/cache/apt', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info']
const STRIP_CONTENTS = ['usr/share/locale', 'var/log', 'var/cache/debconf']

export interface BaseOptions {
  cacheDir: string
  signal?: AbortSignal
  onLine?: (line: string) => void
}

export function baseKey(packages: string[]): string {
  const id = JSON.stringify({ v: ROOTFS_VERSION, suite: SUITE, variant: 'minbase', packages })
  return createHash('sha256').update(id).digest('hex').slice(0, 16)
}

export function basePath(cacheDir: string, packages: string[]): string {
  return join(cacheDir, `rootfs-${SUITE}-${baseKey(packages)}.tar`)
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

/** Unmounts whatever an interrupted debootstrap left mounted below `dir` (proc, sys), deepest first. */
async function unmountBelow(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length)
  for (const m of mounts) await run('umount', ['-l', m], { timeoutMs: 30_000 }).catch(() => {})
}

/** Adds the unprivileged user the actions run as: uid/gid 1000 `app`, home /tmp. */
async function addAppUser(root: string): Promise<void> {
  await appendFile(join(root, 'etc/passwd'), 'app:x:1000:1000:action runner:/tmp:/usr/sbin/nologin\n')
  await appendFile(join(root, 'etc/group'), 'app:x:1000:\n')
}

async function strip(root: string): Promise<void> {
  for (const p of STRIP) await rm(join(root, p), { recursive: true, force: true })
  for (const p of STRIP_CONTENTS) {
    await rm(join(root, p), { recursive: true, force: true })
    await mkdir(join(root, p), { recursive: true })
  }
}

/**
 * The Debian root filesystem (debootstrap minbase + `packages`, stripped, with the `app` user) as a
 * tarball, made once and cached under `cacheDir`. Returns its path and whether it was cached.
 */
export async function ensureBase(
  packages: string[],
  opts: BaseOptions,
): Promise<{ path: string; cached: boolean }> {
  const target = basePath(opts.cacheDir, packages)
  if (await exists(target)) return { path: target, cached: true }
  if (process.getuid?.() !== 0) {
    throw new Error(
      `making the ${SUITE} root filesystem needs root (debootstrap): run the runtime build as root once`,
    )
  }
  await mkdir(join(opts.cacheDir, 'debs'), { recursive: true })
  const work = await mkdtemp(join(opts.cacheDir, 'rootfs-'))
  const root = join(work, 'root')
  try {
    const mirror = await debianMirror(SUITE)
    const include = packages.length ? [`--include=${packages.join(',')}`] : []
    const cache = [`--cache-dir=${join(opts.cacheDir, 'debs')}`]
    await run('debootstrap', ['--variant=minbase', ...include, ...cache, SUITE, root, mirror], {
      signal: opts.signal,
      onLine: opts.onLine,
    })
    await unmountBelow(root)
    await strip(root)
    await addAppUser(root)
    const tmp = join(work, 'rootfs.tar')
    await run('tar', ['--numeric-owner', '--exclude=./dev/*', '-C', root, '-cf', tmp, '.'], {
      signal: opts.signal,
    })
    await rename(tmp, target)
    return { path: target, cached: false }
  } finally {
    await unmountBelow(work)
    await rm(work, { recursive: true, force: true })
  }
}
