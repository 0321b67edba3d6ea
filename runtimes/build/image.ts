import { createReadStream } from 'node:fs'
import { chmod, copyFile, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type Dockerode from 'dockerode'
import { run } from './spawn.ts'
import type { RuntimeFile, RuntimeSpec } from './specs.ts'
import { HASH_LABEL, KIND_LABEL } from './specs.ts'

const INSPECT_TIMEOUT_MS = 15_000
const IMPORT_TIMEOUT_MS = 300_000

export interface ImageInfo {
  id: string
  hash?: string
  sizeBytes: number
  created: string
}

/** Rejects after `ms` when `promise` has not settled (for dockerode calls that take no AbortSignal). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** The image's id, runtime hash label, size and creation time; `null` when there is no such image. */
export async function inspectImage(docker: Dockerode, image: string): Promise<ImageInfo | null> {
  try {
    const info = await withTimeout(docker.getImage(image).inspect(), INSPECT_TIMEOUT_MS, `inspect ${image}`)
    return {
      id: info.Id,
      hash: info.Config?.Labels?.[HASH_LABEL],
      sizeBytes: info.Size,
      created: info.Created,
    }
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null
    throw err
  }
}

/** Copies the runtime's files into `stage`, at their image paths, with their modes. */
export async function stageFiles(stage: string, files: RuntimeFile[]): Promise<void> {
  for (const f of files) {
    const to = join(stage, f.to)
    await mkdir(dirname(to), { recursive: true, mode: 0o755 })
    await copyFile(f.from, to)
    await chmod(to, f.mode)
  }
}

/**
 * The image tarball: a copy of the base with the staged files appended (GNU tar -r), owned by root.
 * Only the files are appended, never their parent directories, so the base keeps its modes.
 */
export async function assembleTar(
  base: string,
  stage: string,
  files: RuntimeFile[],
  out: string,
  signal?: AbortSignal,
) {
  await copyFile(base, out)
  const names = files.map((f) => `./${f.to}`)
  await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', stage, '-rf', out, ...names], {
    signal,
  })
}

/** The `docker import --change` lines that make the tarball a runtime image. */
export function changesFor(spec: RuntimeSpec, hash: string): string[] {
  return [
    'USER 1000',
    'WORKDIR /',
    'EXPOSE 8080',
    ...Object.entries(spec.env).map(([k, v]) => `ENV ${k}=${v}`),
    `CMD ${JSON.stringify(spec.cmd)}`,
    `LABEL ${HASH_LABEL}=${hash} ${KIND_LABEL}=${spec.kind}`,
  ]
}

/** Loads `tar` as `spec.image` with `docker import`; resolves when the engine has tagged it. */
export async function importTar(
  docker: Dockerode,
  tar: string,
  spec: RuntimeSpec,
  hash: string,
  signal?: AbortSignal,
): Promise<void> {
  const [repo, tag] = spec.image.split(':') as [string, string]
  const abortSignal = AbortSignal.any([AbortSignal.timeout(IMPORT_TIMEOUT_MS), ...(signal ? [signal] : [])])
  const stream = await docker.importImage(createReadStream(tar), {
    repo,
    tag,
    changes: changesFor(spec, hash),
    message: `fnagent runtime ${spec.kind}`,
    abortSignal,
  })
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string }>) => {
      const failed = events?.find((e) => e.error)
      if (err || failed) reject(err ?? new Error(`docker import ${spec.image}: ${failed?.error}`))
      else resolve()
    })
  })
}
