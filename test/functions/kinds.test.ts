import { describe, expect, it } from 'vitest'
import { resolveKind } from '../../agent/functions/input.ts'

describe('kind spellings', () => {
  it("maps the versioned spellings of users' manifests to the installed runtime, noting the spelling", () => {
    expect(resolveKind('nodejs:24')).toEqual({ kind: 'nodejs:24' })
    expect(resolveKind('nodejs:default')).toEqual({ kind: 'nodejs:24' })
    expect(resolveKind('nodejs:20')).toEqual({ kind: 'nodejs:24', requested: 'nodejs:20' })
    expect(resolveKind('nodejs:22')).toEqual({ kind: 'nodejs:24', requested: 'nodejs:22' })
    expect(resolveKind('python:3.11')).toEqual({ kind: 'python:3', requested: 'python:3.11' })
    expect(resolveKind('python:3')).toEqual({ kind: 'python:3' })
    expect(resolveKind('blackbox')).toEqual({ kind: 'blackbox' })
  })

  it('refuses what no installed runtime runs, listing what is installed', () => {
    for (const kind of [
      'nodejs:26',
      'nodejs:8',
      'python:2',
      'python:2.7',
      'java:8',
      'go:1.21',
      'nodejs:',
      '',
    ]) {
      expect(() => resolveKind(kind), kind).toThrow(/installed: nodejs:24, python:3, blackbox/)
    }
  })
})
