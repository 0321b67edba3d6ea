import { createRequire } from 'node:module'
import type TableType from 'cli-table3'

// Loaded at the first table, not at every start (most verbs with --json never draw one).
const load = createRequire(import.meta.url)

/** Prints JSON (for `--json`) or a table. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

export function printTable(
  head: string[],
  rows: Array<Array<string | number | boolean | null | undefined>>,
): void {
  if (rows.length === 0) {
    process.stdout.write('(none)\n')
    return
  }
  const Table = load('cli-table3') as typeof TableType
  const t = new Table({
    head,
    style: { head: [], border: [] },
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '  ',
    },
  })
  for (const r of rows) t.push(r.map((c) => (c === null || c === undefined ? '' : String(c))))
  process.stdout.write(`${t.toString()}\n`)
}

/** Key/value lines for one object. */
export function printFields(fields: Array<[string, unknown]>): void {
  const width = Math.max(...fields.map(([k]) => k.length))
  for (const [k, v] of fields) {
    const shown = typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '')
    process.stdout.write(`${k.padEnd(width)}  ${shown}\n`)
  }
}

export function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.round(s / 60)}m ago`
  return `${Math.round(s / 3600)}h ago`
}

export function isoTime(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '')
}
