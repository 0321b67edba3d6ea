import { z } from 'zod'
import { errors } from '../errors.ts'
import { KINDS, type Kind, limitsSchema, NAME_RE } from '../store/types.ts'

/** Accepted spellings of each kind (OpenWhisk's `nodejs:default` included). */
const KIND_ALIASES: Record<string, Kind> = {
  nodejs: 'nodejs:24',
  'nodejs:default': 'nodejs:24',
  'nodejs:24': 'nodejs:24',
  python: 'python:3',
  'python:default': 'python:3',
  'python:3': 'python:3',
  blackbox: 'blackbox',
}

/**
 * Versioned spellings from existing manifests that run on an installed runtime: any Node.js major
 * up to the installed one (`nodejs:20`, `nodejs:22`), any Python 3 (`python:3.11`). The record
 * keeps the spelling asked for (`requestedKind`).
 */
const KIND_FAMILIES: Array<{ re: RegExp; kind: Kind; fits: (v: string) => boolean }> = [
  { re: /^nodejs:(\d+)$/, kind: 'nodejs:24', fits: (major) => Number(major) >= 10 && Number(major) <= 24 },
  { re: /^python:(3(?:\.\d+)?)$/, kind: 'python:3', fits: () => true },
]

export function normalizeKind(kind: string): Kind {
  return resolveKind(kind).kind
}

/** The installed kind a spelling runs on, and the spelling itself when it differs (a note for the record). */
export function resolveKind(kind: string): { kind: Kind; requested?: string } {
  const k = KIND_ALIASES[kind]
  if (k) return { kind: k }
  for (const f of KIND_FAMILIES) {
    const m = f.re.exec(kind)
    if (m && f.fits(m[1]!)) return { kind: f.kind, requested: kind }
  }
  throw errors.invalidKind(
    `unknown kind '${kind}'; installed: ${KINDS.join(', ')} (nodejs:10 to nodejs:24 run on nodejs:24, python:3.x on python:3)`,
  )
}

export function validateName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw errors.invalidName(
      `invalid function name ${JSON.stringify(name)}: use 1–256 characters of letters, digits, spaces and '_', '@', '.', '&', '-' (starting with a letter, digit or '_', not ending with a space), optionally as package/name`,
    )
  }
  return name
}

/** Any subset of the limits; what is not given keeps its previous (or default) value. */
const limitsInput = limitsSchema.partial()

/** What the API accepts to create or update a function (code travels as base64). */
export const functionInputSchema = z
  .object({
    kind: z.string().min(1).optional(),
    main: z.string().min(1).max(256).optional(),
    code: z.string().optional(),
    binary: z.boolean().optional(),
    image: z.string().min(1).max(512).optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    annotations: z.record(z.string(), z.unknown()).optional(),
    env: z.record(z.string(), z.string()).optional(),
    /** Parameters and env stored sealed (given together, they replace the previous secrets). */
    secretParameters: z.record(z.string(), z.unknown()).optional(),
    secretEnv: z.record(z.string(), z.string()).optional(),
    limits: limitsInput.optional(),
    /** Refuse (409) when the function exists; `update` refuses (404) when it does not. */
    mode: z.enum(['create', 'update', 'upsert']).default('upsert'),
    /** Answer only once this many nodes hold the new version and its code (this one included). */
    waitReplicas: z.number().int().min(1).max(100).optional(),
  })
  .strict()
export type FunctionInput = z.infer<typeof functionInputSchema>

/** Describes the first zod issue in one line, naming the field. */
export function describeZodError(err: z.ZodError, what: string): string {
  const issue = err.issues[0]!
  const field = issue.path.join('.')
  return `${what}${field ? ` field '${field}'` : ''}: ${issue.message}`
}

export function parseFunctionInput(body: unknown): FunctionInput {
  const result = functionInputSchema.safeParse(body)
  if (!result.success) throw errors.invalidArgument(describeZodError(result.error, 'invalid function'))
  return result.data
}

const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04])

export function looksLikeZip(code: Uint8Array): boolean {
  return code.length >= 4 && Buffer.from(code.subarray(0, 4)).equals(ZIP_MAGIC)
}
