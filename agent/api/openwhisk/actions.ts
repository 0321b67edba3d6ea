import { z } from 'zod'
import { describeZodError, looksLikeZip } from '../../functions/input.ts'
import { hlcWall } from '../../store/hlc.ts'
import {
  type FunctionRecord,
  type KeyValue,
  keyValueSchema,
  LIMITS,
  owVersion,
  REDACTED,
} from '../../store/index.ts'
import { MESSAGES, OwError } from './reply.ts'

/** An action in OpenWhisk's JSON shape (`WhiskAction.toJson`). */
export interface OwAction {
  namespace: string
  name: string
  version: string
  publish: boolean
  exec: { kind: string; binary: boolean; main?: string; code?: string; image?: string }
  annotations: KeyValue[]
  parameters: KeyValue[]
  limits: FunctionRecord['limits']
  updated: number
}

export const toPairs = (o: Record<string, unknown>): KeyValue[] =>
  Object.entries(o).map(([key, value]) => ({ key, value }))

export const fromPairs = (list: KeyValue[] | undefined): Record<string, unknown> | undefined =>
  list ? Object.fromEntries(list.map((p) => [p.key, p.value])) : undefined

/** The action JSON; `code` is the source text, or base64 for a zip, and left out when null. */
export function toOwAction(fn: FunctionRecord, code: Buffer | null): OwAction {
  const name = fn.name.includes('/') ? fn.name.slice(fn.name.indexOf('/') + 1) : fn.name
  const pkg = fn.name.includes('/') ? `/${fn.name.slice(0, fn.name.indexOf('/'))}` : ''
  const exec: OwAction['exec'] = { kind: fn.kind, binary: fn.binary }
  if (fn.main !== 'main') exec.main = fn.main
  if (fn.image) exec.image = fn.image
  if (code) exec.code = fn.binary ? code.toString('base64') : code.toString('utf8')
  return {
    namespace: `${fn.namespace}${pkg}`,
    name,
    version: owVersion(fn.version),
    publish: false,
    exec,
    annotations: [
      ...toPairs(fn.annotations).filter((a) => a.key !== 'exec'),
      { key: 'exec', value: fn.kind },
    ],
    // Secret parameters are named, never shown (set them with `fnagent fn update --secret-param`).
    parameters: [
      ...toPairs(fn.parameters),
      ...Object.keys(fn.secrets?.parameters ?? {}).map((key) => ({ key, value: REDACTED })),
    ],
    limits: fn.limits,
    updated: hlcWall(fn.updated),
  }
}

const putSchema = z.object({
  namespace: z.string().optional(),
  name: z.string().optional(),
  version: z.string().optional(),
  publish: z.boolean().optional(),
  exec: z
    .object({
      kind: z.string().min(1),
      code: z.string().optional(),
      main: z.string().min(1).optional(),
      binary: z.boolean().optional(),
      image: z.string().min(1).optional(),
      components: z.array(z.string()).optional(),
    })
    .optional(),
  parameters: z.array(keyValueSchema).optional(),
  annotations: z.array(keyValueSchema).optional(),
  /** Annotation keys an update removes (`wsk action update --del-annotation`). */
  delAnnotations: z.array(z.string()).optional(),
  limits: z
    .object({
      timeout: z.number().optional(),
      memory: z.number().optional(),
      logs: z.number().optional(),
      concurrency: z.number().optional(),
    })
    .optional(),
})

/**
 * Maps a `PUT .../actions/{name}` body to fnagent's function input (see docs/api.md). `prev` is the
 * live action when there is one: an update merges its annotations with the given ones (minus
 * `delAnnotations`), as OpenWhisk does; a create adds `provide-api-key: false` unless given.
 */
export function fromOwPut(
  body: unknown,
  overwrite: boolean,
  prev: FunctionRecord | null,
): Record<string, unknown> {
  const parsed = putSchema.safeParse(body)
  if (!parsed.success)
    throw new OwError(400, describeZodError(parsed.error, 'The request content was malformed:'))
  const { exec, parameters, annotations, delAnnotations, limits } = parsed.data
  if (exec?.kind === 'sequence' || exec?.components) throw new OwError(400, MESSAGES.sequencesNotSupported)
  const input: Record<string, unknown> = { mode: overwrite ? 'upsert' : 'create' }
  if (exec) {
    const blackbox = exec.kind === 'blackbox'
    input.kind = exec.kind
    if (exec.main) input.main = exec.main
    if (blackbox && exec.image) input.image = exec.image
    // An empty file is a valid action (its invocation fails with "Missing main/no code to execute.").
    if (exec.code !== undefined && (exec.code !== '' || !blackbox)) {
      const binary = exec.binary === true || isBase64Zip(exec.code)
      input.code = binary ? exec.code.trim() : Buffer.from(exec.code, 'utf8').toString('base64')
      input.binary = binary
    }
  }
  const params = fromPairs(parameters)
  if (params) input.parameters = params
  const given = fromPairs(annotations) ?? {}
  delete given.exec
  if (prev && overwrite) {
    const kept = { ...prev.annotations }
    for (const key of delAnnotations ?? []) delete kept[key]
    if (annotations || delAnnotations) input.annotations = { ...kept, ...given }
  } else {
    input.annotations = { 'provide-api-key': false, ...given }
  }
  if (limits) input.limits = checkLimits(limits)
  return input
}

/**
 * OpenWhisk takes a zip as base64 text and does not need the `binary` flag (`wsk` leaves it out):
 * code that is base64 and decodes to a zip is one.
 */
function isBase64Zip(code: string): boolean {
  const text = code.trim()
  if (text.length < 8 || !/^[A-Za-z0-9+/\r\n]+={0,2}$/.test(text)) return false
  return looksLikeZip(Buffer.from(text.slice(0, 8), 'base64'))
}

type LimitsIn = { timeout?: number; memory?: number; logs?: number; concurrency?: number }

/** The given limits, or 400 with OpenWhisk's threshold messages (fnagent's own ranges). */
function checkLimits(limits: LimitsIn): LimitsIn {
  const out: LimitsIn = {}
  const bad = (message: string) => new OwError(400, `The request content was malformed:\n${message}`)
  const { timeout, memory, logs, concurrency } = limits
  if (timeout !== undefined) {
    const { min, max } = LIMITS.timeout
    if (timeout > max)
      throw bad(`duration ${timeout} milliseconds exceeds allowed threshold of ${max} milliseconds`)
    if (timeout < min)
      throw bad(`duration ${timeout} milliseconds below allowed threshold of ${min} milliseconds`)
    out.timeout = timeout
  }
  const size = (field: string, v: number | undefined, r: { min: number; max: number }) => {
    if (v === undefined) return undefined
    if (v > r.max) throw bad(`${field} size ${v} MB exceeds allowed threshold of ${r.max} MB`)
    if (v < r.min) throw bad(`${field} size ${v} MB below allowed threshold of ${r.min} MB`)
    return v
  }
  if (memory !== undefined) out.memory = size('memory', memory, LIMITS.memory)
  if (logs !== undefined) out.logs = size('log', logs, LIMITS.logs)
  if (concurrency !== undefined) {
    const { min, max } = LIMITS.concurrency
    if (concurrency > max) throw bad(`concurrency ${concurrency} exceeds allowed threshold of ${max}`)
    if (concurrency < min) throw bad(`concurrency ${concurrency} below allowed threshold of ${min}`)
    out.concurrency = concurrency
  }
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isInteger(v)) throw bad(`${k} must be an integer`)
  }
  return out
}

/** A truthy `web-export` annotation (`true`, `"true"`, `"yes"`, `"raw"` as wsk sets them). */
export function annotationOn(fn: FunctionRecord, key: string): boolean {
  const v = fn.annotations[key]
  return v === true || v === 'true' || v === 'yes' || v === 'raw'
}
