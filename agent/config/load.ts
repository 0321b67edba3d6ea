import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { z } from 'zod'
import { errors } from '../errors.ts'
import { type Config, configSchema } from './schema.ts'

export const CONFIG_FILE = 'config.json'
export const ENV_PREFIX = 'FNAGENT_'

/** Deeply frozen, validated configuration: defaults < config file < FNAGENT_* env < flags. */
export interface LoadInput {
  /** Values given as command-line flags (already in config shape). */
  flags?: Record<string, unknown>
  /** Explicit config file; default `<dataDir>/config.json` when it exists. */
  configFile?: string
  env?: NodeJS.ProcessEnv
}

type Obj = Record<string, unknown>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function merge(a: Obj, b: Obj): Obj {
  const out: Obj = { ...a }
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue
    out[k] = isObj(v) && isObj(out[k]) ? merge(out[k] as Obj, v) : v
  }
  return out
}

const snake = (s: string) =>
  s
    .replace(/MiB/g, 'Mib')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()

/** Every leaf key of the schema with its FNAGENT_* variable name, e.g. cluster.heartbeatMs → FNAGENT_CLUSTER_HEARTBEAT_MS. */
export function envKeys(): Array<{ path: string[]; env: string; list: boolean }> {
  const out: Array<{ path: string[]; env: string; list: boolean }> = []
  const walk = (schema: z.ZodType, path: string[]) => {
    let s: z.ZodType = schema
    // unwrap defaults/optionals
    for (;;) {
      const def = (s as unknown as { def: { type: string; innerType?: z.ZodType } }).def
      if ((def.type === 'default' || def.type === 'optional') && def.innerType) s = def.innerType
      else break
    }
    const shape = (s as unknown as { shape?: Record<string, z.ZodType> }).shape
    if (shape && (s as unknown as { def: { type: string } }).def.type === 'object') {
      for (const [k, v] of Object.entries(shape)) walk(v, [...path, k])
    } else {
      const list = (s as unknown as { def: { type: string } }).def.type === 'array'
      out.push({ path, env: ENV_PREFIX + path.map(snake).join('_'), list })
    }
  }
  walk(configSchema, [])
  return out
}

function parseEnvValue(raw: string): unknown {
  const t = raw.trim()
  if (t === '') return undefined
  try {
    return JSON.parse(t)
  } catch {
    return t
  }
}

function fromEnv(env: NodeJS.ProcessEnv): Obj {
  let out: Obj = {}
  for (const { path, env: name, list } of envKeys()) {
    const raw = env[name]
    if (raw === undefined) continue
    let value = parseEnvValue(raw)
    // Lists may be given comma-separated: FNAGENT_CLUSTER_BOOTSTRAP_PEERS=a:7700,b:7700
    if (typeof value === 'string' && list) {
      value = value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    }
    let leaf: Obj = { [path.at(-1)!]: value }
    for (const key of path.slice(0, -1).reverse()) leaf = { [key]: leaf }
    out = merge(out, leaf)
  }
  return out
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v)
    Object.freeze(o)
  }
  return o
}

/** Describes a zod issue in one line: key, value, what is allowed. */
function describeIssue(issue: z.core.$ZodIssue, input: Obj): string {
  const key = issue.path.join('.') || '(root)'
  let value: unknown = input
  for (const p of issue.path)
    value = isObj(value) || Array.isArray(value) ? (value as Obj)[p as string] : undefined
  const shown = value === undefined ? 'missing' : JSON.stringify(value)
  return `invalid config value for ${key}: ${shown} (${issue.message})`
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.FNAGENT_DATA_DIR ?? join(env.HOME ?? '.', '.fnagent'))
}

/** Merges the layers, validates them once and returns a frozen config. Throws INVALID_CONFIG. */
export function loadConfig(input: LoadInput = {}): Config {
  const env = input.env ?? process.env
  const flags = input.flags ?? {}
  const envLayer = fromEnv(env)
  const dataDir = resolve(String(flags.dataDir ?? envLayer.dataDir ?? defaultDataDir(env)))
  const file = input.configFile ?? join(dataDir, CONFIG_FILE)
  let fileLayer: Obj = {}
  if (input.configFile !== undefined && !existsSync(file)) {
    throw errors.invalidConfig(`config file ${file} does not exist`)
  }
  if (existsSync(file)) {
    let parsed: unknown
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'))
    } catch (err) {
      throw errors.invalidConfig(`config file ${file} is not valid JSON: ${(err as Error).message}`)
    }
    if (!isObj(parsed)) throw errors.invalidConfig(`config file ${file} must hold a JSON object`)
    fileLayer = parsed
  }
  const merged = merge(merge(merge(fileLayer, envLayer), flags), { dataDir })
  const result = configSchema.safeParse(merged)
  if (!result.success) {
    const issue = result.error.issues[0]!
    throw errors.invalidConfig(describeIssue(issue, merged), { details: { key: issue.path.join('.') } })
  }
  const config = result.data as Config
  config.socket = resolve(config.socket ?? join(dataDir, 'fnagent.sock'))
  if (config.cluster.keyFile) config.cluster.keyFile = resolve(config.cluster.keyFile)
  return deepFreeze(config)
}
