import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES, errors, FnError } from '../agent/errors.ts'

const ROOT = join(import.meta.dirname, '..')

function sources(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...sources(path))
    else if (name.endsWith('.ts')) out.push(path)
  }
  return out
}

/** Codes of other libraries that code compares against: errno names, LevelDB's lock. */
const FOREIGN = /^(E[A-Z]+|LEVEL_[A-Z_]+)$/

/**
 * The codes a source file uses as one of ours: compared with or assigned to a `code`, asserted by
 * a test (`.toBe('X')` after `code`, `code: 'X'`), or shown by the CLI (`[X]`).
 */
function usedCodes(text: string): string[] {
  const patterns = [
    /\bcode\??\s*(?:===|!==|:|=)\s*'([A-Z][A-Z0-9_]*)'/g,
    /\bcode\)?\.toBe\('([A-Z][A-Z0-9_]*)'\)/g,
    /'\[([A-Z][A-Z0-9_]*)\]'/g,
    /new FnError\(\s*'([A-Z][A-Z0-9_]*)'/g,
  ]
  const out = new Set<string>()
  for (const re of patterns) for (const m of text.matchAll(re)) if (!FOREIGN.test(m[1]!)) out.add(m[1]!)
  return [...out].sort()
}

/** The rows of the table under "## Errors" in docs/api.md: code, status, where, meaning. */
function documented(): Map<string, { status: number; where: string; doc: string }> {
  const md = readFileSync(join(ROOT, 'docs/api.md'), 'utf8')
  const section = md.slice(md.indexOf('## Errors'), md.indexOf('\n## ', md.indexOf('## Errors') + 1))
  const rows = new Map<string, { status: number; where: string; doc: string }>()
  for (const m of section.matchAll(/^\| `([A-Z_]+)` \| (\d+) \| (\w+) \| (.+) \|$/gm))
    rows.set(m[1]!, { status: Number(m[2]), where: m[3]!, doc: m[4]! })
  return rows
}

describe('the error catalogue', () => {
  it('docs/api.md lists exactly the catalogue, with the same status, place and meaning', () => {
    const docs = documented()
    expect([...docs.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort())
    for (const [code, { status, where, doc }] of Object.entries(ERROR_CODES))
      expect(docs.get(code)).toEqual({ status, where, doc })
  })

  it('every code used in agent/, cli/, test/ and bench/ is in the catalogue', () => {
    const unknown: string[] = []
    for (const dir of ['agent', 'cli', 'test', 'bench'])
      for (const file of sources(join(ROOT, dir))) {
        if (file === import.meta.filename) continue
        for (const code of usedCodes(readFileSync(file, 'utf8')))
          if (!(code in ERROR_CODES)) unknown.push(`${relative(ROOT, file)}: ${code}`)
      }
    expect(unknown).toEqual([])
  })

  it('the scan finds a code outside the catalogue', () => {
    expect(usedCodes(`if (e.code === 'NOT_A_CODE') x; if (e.code === 'ENOENT') y`)).toEqual(['NOT_A_CODE'])
    expect(usedCodes(`expect(err.code).toBe('NOPE'); ({ code: 'ALSO_NOT' })`)).toEqual(['ALSO_NOT', 'NOPE'])
  })

  it('no FnError is built with a literal code outside agent/errors.ts', () => {
    const literal: string[] = []
    for (const dir of ['agent', 'cli'])
      for (const file of sources(join(ROOT, dir)))
        if (!file.endsWith('agent/errors.ts') && /new FnError\(/.test(readFileSync(file, 'utf8')))
          literal.push(relative(ROOT, file))
    expect(literal).toEqual([])
  })

  it('each constructor builds its code with the catalogue status; only INTERNAL is a bug', () => {
    for (const make of Object.values(errors)) {
      const err = make('m')
      expect(err).toBeInstanceOf(FnError)
      expect(err.status).toBe(ERROR_CODES[err.code].status)
      expect(err.expose).toBe(err.code !== 'INTERNAL')
    }
  })
})
