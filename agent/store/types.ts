import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { compareVersions, isHlc } from './hlc.ts'

/**
 * Kinds an agent knows. `blackbox` runs any image whose server speaks the action protocol;
 * `sequence` runs no container of its own: it chains its `components` (agent/activations/composition.ts).
 */
export const KINDS = ['nodejs:24', 'python:3', 'blackbox', 'sequence'] as const
export type Kind = (typeof KINDS)[number]

/**
 * One part of a name, as OpenWhisk's `EntityName`: 1–256 characters of letters, digits, `_`, `@`,
 * `.`, `&`, `-` and spaces, starting with a letter, digit or `_` and not ending with a space.
 */
export const NAME_PART = '(?:\\w|\\w[\\w@ .&-]{0,254}[\\w@.&-])'
/** `name` or `package/name`. */
export const NAME_RE = new RegExp(`^${NAME_PART}(?:/${NAME_PART})?$`)

export const DEFAULT_NAMESPACE = 'guest'
/**
 * A namespace: one part, never a `/` (else `guest/x` + `y` and `guest` + `x/y` would be one key).
 * Replicated records are held to it as local ones are.
 */
export const NAMESPACE_RE = /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}$/

/** OpenWhisk's limits: defaults and allowed ranges. */
export const LIMITS = {
  memory: { min: 128, max: 2048, default: 256 },
  timeout: { min: 100, max: 300_000, default: 60_000 },
  /** Activations one container runs at once; above 1 only for kinds in CONCURRENT_KINDS. */
  concurrency: { min: 1, max: 500, default: 1 },
  logs: { min: 0, max: 10, default: 10 },
} as const

/**
 * The kinds whose runtime runs several activations at once in one container (`__OW_ALLOW_CONCURRENT`,
 * runtimes/nodejs/concurrent.js); every other kind keeps `limits.concurrency` at 1.
 */
export const CONCURRENT_KINDS: readonly Kind[] = ['nodejs:24']

/** Most atomic actions one sequence may run, nested sequences inlined (OpenWhisk's default, 50). */
export const SEQUENCE_MAX_LENGTH = 50

export const limitsSchema = z
  .object({
    memory: z.number().int().min(LIMITS.memory.min).max(LIMITS.memory.max),
    timeout: z.number().int().min(LIMITS.timeout.min).max(LIMITS.timeout.max),
    concurrency: z.number().int().min(LIMITS.concurrency.min).max(LIMITS.concurrency.max),
    logs: z.number().int().min(LIMITS.logs.min).max(LIMITS.logs.max),
  })
  .strict()
export type Limits = z.infer<typeof limitsSchema>

export const DEFAULT_LIMITS: Limits = {
  memory: LIMITS.memory.default,
  timeout: LIMITS.timeout.default,
  concurrency: LIMITS.concurrency.default,
  logs: LIMITS.logs.default,
}

const hlc = z.string().refine(isHlc, 'an HLC timestamp')
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest')
const jsonObject = z.record(z.string(), z.unknown())

/** One version of a function as stored and replicated. A delete is a record with `deleted: true`. */
export const functionRecordSchema = z
  .object({
    namespace: z.string().regex(NAMESPACE_RE),
    name: z.string().regex(NAME_RE),
    version: z.number().int().positive(),
    kind: z.enum(KINDS),
    /** The kind as the user spelled it when that maps to an installed one (`nodejs:20` → `nodejs:24`). */
    requestedKind: z.string().max(64).optional(),
    main: z.string().min(1).max(256),
    image: z.string().min(1).max(512).optional(),
    binary: z.boolean(),
    codeHash: sha256.optional(),
    codeSize: z.number().int().nonnegative(),
    parameters: jsonObject,
    annotations: jsonObject,
    env: z.record(z.string(), z.string()),
    /**
     * Secret parameters and env, each value sealed (store/secrets.ts): never in clear in LevelDB or
     * on the wire; opened only for the container that runs the function.
     */
    secrets: z
      .object({
        parameters: z.record(z.string(), z.string()).optional(),
        env: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .optional(),
    limits: limitsSchema,
    created: hlc,
    updated: hlc,
    origin: z.string().min(1).max(128),
    deleted: z.boolean().optional(),
    /** Kind `sequence` only: the names of its components, in order, in the same namespace. */
    components: z.array(z.string().regex(NAME_RE)).min(1).max(SEQUENCE_MAX_LENGTH).optional(),
  })
  .strict()
export type FunctionRecord = z.infer<typeof functionRecordSchema>

export const ACTIVATION_STATUS = [
  'success',
  'application error',
  'action developer error',
  'whisk internal error',
] as const
export type ActivationStatus = (typeof ACTIVATION_STATUS)[number]

export function statusCode(status: ActivationStatus): number {
  return ACTIVATION_STATUS.indexOf(status)
}

export const keyValueSchema = z.object({ key: z.string(), value: z.unknown() })
export type KeyValue = z.infer<typeof keyValueSchema>

/** An activation id: 32 hex digits, as OpenWhisk's. */
export const ACTIVATION_ID_RE = /^[0-9a-f]{32}$/

/** A new activation id (the one place ids are made). */
export function newActivationId(): string {
  return randomBytes(16).toString('hex')
}

/** An activation record in OpenWhisk's shape, plus where it ran (`node`) and its HLC. */
export const activationRecordSchema = z
  .object({
    activationId: z.string().regex(ACTIVATION_ID_RE),
    namespace: z.string().regex(NAMESPACE_RE),
    name: z.string().regex(NAME_RE),
    version: z.string().max(64),
    subject: z.string().max(256),
    start: z.number().nonnegative(),
    end: z.number().nonnegative(),
    duration: z.number(),
    statusCode: z.number().int().min(0).max(3),
    response: z.object({
      status: z.enum(ACTIVATION_STATUS),
      statusCode: z.number().int().min(0).max(3),
      success: z.boolean(),
      result: z.unknown(),
      size: z.number().int().optional(),
    }),
    logs: z.array(z.string()),
    annotations: z.array(keyValueSchema),
    publish: z.boolean(),
    node: z.string().min(1).max(128),
    cold: z.boolean(),
    hlc,
    origin: z.string().min(1).max(128),
    /**
     * Absent on a finished record. `running`: a marker stored on the owners before an async run
     * starts (never shown as a result); `lost`: the marker resolved after its node crashed or
     * left mid-run (a `whisk internal error` naming node and cause). See `compareActivations`.
     */
    phase: z.enum(['running', 'lost']).optional(),
  })
  .passthrough()
export type ActivationRecord = z.infer<typeof activationRecordSchema>

/**
 * A dead letter: the final record of a queued job whose every attempt failed (annotation
 * `deadLetter`), until it is replayed (annotation `replayed`).
 */
export function isDeadLetter(record: ActivationRecord): boolean {
  if (record.phase) return false
  const has = (key: string) => record.annotations.some((a) => a.key === key)
  return has('deadLetter') && !has('replayed')
}

/**
 * The completion callback a queued job's finished record still owes (annotation `callback` with
 * `pending: true`: the URL and the node that delivers it), or null once delivered or given up.
 */
export function pendingCallback(record: ActivationRecord): { url: string; node: string } | null {
  if (record.phase) return null
  const v = record.annotations.find((a) => a.key === 'callback')?.value as
    | { pending?: unknown; url?: unknown; node?: unknown }
    | undefined
  return v?.pending === true && typeof v.url === 'string' && typeof v.node === 'string'
    ? { url: v.url, node: v.node }
    : null
}

const PHASE_RANK = { running: 0, lost: 1 } as const

/**
 * Last-writer-wins order of two records of one activation: a finished record beats a `lost` one,
 * which beats a `running` marker, whatever their stamps (the run's real outcome is kept when it
 * shows up after the marker was resolved as lost); then the HLC, then the origin.
 */
export function compareActivations(a: ActivationRecord, b: ActivationRecord): number {
  const ra = a.phase ? PHASE_RANK[a.phase] : 2
  const rb = b.phase ? PHASE_RANK[b.phase] : 2
  if (ra !== rb) return ra - rb
  return compareVersions(a, b)
}

/** OpenWhisk versions are semver strings; fnagent counts versions 1, 2, 3… and shows them as 0.0.N. */
export function owVersion(version: number): string {
  return `0.0.${version}`
}

export function fnPath(namespace: string, name: string): string {
  return `${namespace}/${name}`
}
