import type Dockerode from 'dockerode'
import type { FunctionRecord } from '../store/types.ts'
import type { InvokerOptions } from './options.ts'

const MiB = 1024 * 1024

/** Container labels; `start()` finds a crashed agent's leftovers by `fnagent.node`. */
export const LABEL = {
  node: 'fnagent.node',
  fn: 'fnagent.fn',
  version: 'fnagent.version',
  kind: 'fnagent.kind',
  role: 'fnagent.role',
} as const

export type Role = 'warm' | 'prewarm'

export interface ContainerSpec {
  image: string
  kind: string
  memoryMiB: number
  /** Blackbox images print no log sentinels and are not prewarmed. */
  blackbox: boolean
  /** `uid:gid` the container runs as; null keeps the image's own user (see `containerUser`). */
  user: string | null
  role: Role
  fn?: { namespace: string; name: string; version: number }
  env?: Record<string, string>
}

/** Docker's create options for one function container: every limit and the lock-down in one place. */
export function createOptions(
  spec: ContainerSpec,
  nodeId: string,
  opts: InvokerOptions,
): Dockerode.ContainerCreateOptions {
  const labels: Record<string, string> = {
    [LABEL.node]: nodeId,
    [LABEL.kind]: spec.kind,
    [LABEL.role]: spec.role,
  }
  if (spec.fn) {
    labels[LABEL.fn] = `${spec.fn.namespace}/${spec.fn.name}`
    labels[LABEL.version] = String(spec.fn.version)
  }
  const memory = spec.memoryMiB * MiB
  return {
    Image: spec.image,
    Labels: labels,
    ...(spec.user === null ? {} : { User: spec.user }),
    Env: [
      ...Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
      ...(opts.apiHost ? [`__OW_API_HOST=${opts.apiHost}`] : []),
    ],
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: false,
    Tty: false,
    NetworkDisabled: false,
    HostConfig: {
      NetworkMode: opts.network,
      Memory: memory,
      MemorySwap: memory,
      CpuShares: Math.max(2, Math.round((opts.cpuSharesPer256MiB * spec.memoryMiB) / 256)),
      PidsLimit: opts.pidsLimit,
      Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 1024 }],
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${opts.tmpfsMiB}m` },
      Binds: [],
      Mounts: [],
      Privileged: false,
      AutoRemove: false,
      // Output is read through `attach`; nothing needs to be stored on disk by the engine.
      LogConfig: { Type: 'none', Config: {} },
      RestartPolicy: { Name: 'no' },
    },
  }
}

/** The user of the runtime images (their files belong to it). */
export const RUNTIME_USER = '1000'
/** Blackbox images run as `nobody`, whatever their own user (often root), unless their owner opts out. */
export const BLACKBOX_USER = '65534:65534'
/** The annotation by which a blackbox function's owner keeps the image's own user. */
export const IMAGE_USER_ANNOTATION = 'run-as-image-user'

/** The user a function's container runs as; null = the image's own (the owner asked for it). */
export function containerUser(fn: Pick<FunctionRecord, 'kind' | 'annotations'>): string | null {
  if (fn.kind !== 'blackbox') return RUNTIME_USER
  const v = fn.annotations[IMAGE_USER_ANNOTATION]
  return v === true || v === 'true' ? null : BLACKBOX_USER
}

/** Bytes a function may log per activation (`limits.logs` is in MB, as in OpenWhisk). */
export function logLimitBytes(fn: FunctionRecord): number {
  return fn.limits.logs * MiB
}
