import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import type { ErrorCode } from '../agent/errors.ts'
import { Client } from './client.ts'

export interface GlobalOptions {
  socket?: string
  dataDir?: string
  json?: boolean
  namespace?: string
}

/** Where the agent's socket is: --socket > FNAGENT_SOCKET > <data dir>/fnagent.sock. */
export function socketPath(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string {
  if (opts.socket) return resolve(opts.socket)
  if (env.FNAGENT_SOCKET) return resolve(env.FNAGENT_SOCKET)
  const dataDir = opts.dataDir ?? env.FNAGENT_DATA_DIR ?? join(env.HOME ?? '.', '.fnagent')
  return resolve(dataDir, 'fnagent.sock')
}

export function clientFor(cmd: Command): Client {
  const opts = cmd.optsWithGlobals<GlobalOptions>()
  return new Client(socketPath(opts), opts.namespace ?? process.env.FNAGENT_NAMESPACE)
}

export function wantsJson(cmd: Command): boolean {
  return cmd.optsWithGlobals<GlobalOptions>().json === true
}

/** A user mistake found by the CLI itself: printed as one line, exit code 2. */
export class UsageError extends Error {
  readonly code: ErrorCode = 'USAGE'
}

/** `-p KEY VALUE` pairs (variadic tokens) into an object; values are JSON when they parse, strings otherwise. */
export function pairsToObject(tokens: string[] | undefined, flag: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (!tokens) return out
  if (tokens.length % 2 !== 0) {
    throw new UsageError(
      `${flag} takes a KEY and a VALUE each time (got ${tokens.length} words: ${tokens.join(' ')})`,
    )
  }
  for (let i = 0; i < tokens.length; i += 2) out[tokens[i]!] = parseValue(tokens[i + 1]!)
  return out
}

export function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}

/** Reads a JSON object from a file (`-P params.json`). */
export function readJsonFile(file: string, flag: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new UsageError(
      `${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    )
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new UsageError(`${flag}: ${file} is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`${flag}: ${file} must hold a JSON object`)
  }
  return value as Record<string, unknown>
}

export function positiveInt(flag: string) {
  return (raw: string): number => {
    const n = Number(raw)
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a whole number, got '${raw}'`)
    return n
  }
}

/** Collects repeated variadic options into one list. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}
