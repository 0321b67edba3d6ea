import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

export type RuntimeKind = 'nodejs:24' | 'python:3'
export const RUNTIME_KINDS: readonly RuntimeKind[] = ['nodejs:24', 'python:3']

/** Bump when the way images are assembled changes: every image becomes stale. */
export const BUILD_SCRIPT_VERSION = 1
export const HASH_LABEL = 'fnagent.runtime.hash'
export const KIND_LABEL = 'fnagent.runtime.kind'

const runtimesDir = join(dirname(fileURLToPath(import.meta.url)), '..')

export interface RuntimeFile {
  /** Absolute path on this host. */
  from: string
  /** Path inside the image, relative to its root. */
  to: string
  mode: number
}

/** What makes up one runtime image, besides the Debian base. */
export interface RuntimeSpec {
  kind: RuntimeKind
  image: string
  /** Debian packages on top of debootstrap's minbase. */
  packages: string[]
  /** The interpreter copied from this host (none: it comes from Debian packages). */
  interpreter?: RuntimeFile
  proxy: RuntimeFile[]
  cmd: string[]
  env: Record<string, string>
}

export function isRuntimeKind(kind: string): kind is RuntimeKind {
  return (RUNTIME_KINDS as readonly string[]).includes(kind)
}

/** The image of a kind: 'fnagent/nodejs:24', 'fnagent/python:3'. */
export function imageFor(kind: string): string {
  return `fnagent/${kind}`
}

/**
 * The Node 24 binary for the nodejs:24 image: this project's `node` npm package (a devDependency),
 * else the Node running the agent when it is Node 24 (a production install on a VM).
 */
export function nodeBinary(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('node/package.json')), 'bin', 'node')
  } catch {
    if (process.versions.node.split('.')[0] === '24') return process.execPath
    throw new Error(
      `the nodejs:24 runtime needs a Node 24 binary: run fnagent on Node 24 (found ${process.version}) or install the npm package node@24`,
    )
  }
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/**
 * The `openwhisk` npm client and its dependencies, as OpenWhisk's Node runtime preinstalls it, copied
 * from this project's node_modules into /srv/node_modules (NODE_PATH: zipped actions find it too).
 * None when the package is not installed here (a production install without dev dependencies).
 */
export function openwhiskClientFiles(): RuntimeFile[] {
  const req = createRequire(import.meta.url)
  let root: string
  try {
    root = dirname(dirname(req.resolve('openwhisk/package.json')))
  } catch {
    return []
  }
  const files: RuntimeFile[] = []
  const seen = new Set<string>()
  const visit = (name: string) => {
    if (seen.has(name)) return
    seen.add(name)
    const dir = join(root, name)
    for (const rel of readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
      if (statSync(join(dir, rel)).isFile())
        files.push({ from: join(dir, rel), to: `srv/node_modules/${name}/${rel}`, mode: 0o644 })
    }
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>
    }
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep)
  }
  visit('openwhisk')
  return files
}

export function specFor(kind: RuntimeKind): RuntimeSpec {
  const file = (dir: string, name: string): RuntimeFile => ({
    from: join(runtimesDir, dir, name),
    to: `srv/${name}`,
    mode: 0o644,
  })
  if (kind === 'nodejs:24') {
    return {
      kind,
      image: imageFor(kind),
      packages: ['libstdc++6'],
      interpreter: { from: nodeBinary(), to: 'usr/local/bin/node', mode: 0o755 },
      proxy: [
        ...['package.json', 'proxy.js', 'runner.js', 'unzip.js', 'concurrent.js'].map((n) =>
          file('nodejs', n),
        ),
        ...openwhiskClientFiles(),
      ],
      cmd: ['/usr/local/bin/node', '/srv/proxy.js'],
      env: { PATH, HOME: '/tmp', NODE_PATH: '/srv/node_modules' },
    }
  }
  return {
    kind,
    image: imageFor(kind),
    packages: ['python3'],
    proxy: [file('python', 'proxy.py')],
    cmd: ['/usr/bin/python3', '/srv/proxy.py'],
    env: { PATH, HOME: '/tmp', PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
  }
}

async function interpreterVersion(spec: RuntimeSpec): Promise<string> {
  if (!spec.interpreter) return `debian:${spec.packages.join(',')}`
  const { stdout } = await promisify(execFile)(spec.interpreter.from, ['--version'], { timeout: 30_000 })
  return stdout.trim()
}

/**
 * The content hash of a runtime image: the proxy source, the interpreter's version, the base package
 * list, the image config and the build script version. An image labelled with it is up to date.
 */
export async function runtimeHash(spec: RuntimeSpec): Promise<string> {
  const h = createHash('sha256')
  h.update(
    JSON.stringify({
      v: BUILD_SCRIPT_VERSION,
      kind: spec.kind,
      packages: spec.packages,
      cmd: spec.cmd,
      env: spec.env,
    }),
  )
  h.update(await interpreterVersion(spec))
  for (const f of spec.proxy) {
    h.update(`\0${f.to}\0`)
    h.update(await readFile(f.from))
  }
  return h.digest('hex')
}
