import { z } from 'zod'
import { describeZodError } from '../../functions/input.ts'
import { hlcWall } from '../../store/hlc.ts'
import { type FunctionRecord, type KeyValue, keyValueSchema, owVersion } from '../../store/index.ts'
import { OwError } from './reply.ts'

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

const toPairs = (o: Record<string, unknown>): KeyValue[] =>
  Object.entries(o).map(([key, value]) => ({ key, value }))

const fromPairs = (list: KeyValue[] | undefined): Record<string, unknown> | undefined =>
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
    parameters: toPairs(fn.parameters),
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
  limits: z
    .object({
      timeout: z.number().optional(),
      memory: z.number().optional(),
      logs: z.number().optional(),
      concurrency: z.number().optional(),
    })
    .optional(),
})

/** Maps a `PUT .../actions/{name}` body to fnagent's function input (see docs/api.md). */
export function fromOwPut(body: unknown, overwrite: boolean): Record<string, unknown> {
  const parsed = putSchema.safeParse(body)
  if (!parsed.success)
    throw new OwError(400, describeZodError(parsed.error, 'The request content was malformed:'))
  const { exec, parameters, annotations, limits } = parsed.data
  if (exec?.kind === 'sequence' || exec?.components) {
    throw new OwError(400, 'sequences are not supported by fnagent yet')
  }
  const input: Record<string, unknown> = { mode: overwrite ? 'upsert' : 'create' }
  if (exec) {
    const blackbox = exec.kind === 'blackbox'
    input.kind = exec.kind
    if (exec.main) input.main = exec.main
    if (blackbox && exec.image) input.image = exec.image
    if (exec.code !== undefined && exec.code !== '') {
      // OpenWhisk sends source as text and a zip (binary) as base64; fnagent takes base64 for both.
      const binary = exec.binary ?? false
      input.code = binary ? exec.code : Buffer.from(exec.code, 'utf8').toString('base64')
      input.binary = binary
    }
  }
  const params = fromPairs(parameters)
  if (params) input.parameters = params
  const notes = fromPairs(annotations)
  if (notes) {
    delete notes.exec
    input.annotations = notes
  }
  if (limits) input.limits = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined))
  return input
}

/** A truthy `web-export` annotation (`true`, `"true"`, `"yes"`, `"raw"` as wsk sets them). */
export function annotationOn(fn: FunctionRecord, key: string): boolean {
  const v = fn.annotations[key]
  return v === true || v === 'true' || v === 'yes' || v === 'raw'
}
