import { describe, expect, it } from 'vitest'
import { parseTraceparent } from '../../agent/activations/trace.ts'

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

describe('W3C traceparent', () => {
  it('accepts a valid header and keeps the first four fields of a future version', () => {
    expect(parseTraceparent(VALID)).toBe(VALID)
    expect(parseTraceparent(` ${VALID} `)).toBe(VALID)
    expect(parseTraceparent(`cc${VALID.slice(2)}-what-comes-later`)).toBe(`cc${VALID.slice(2)}`)
  })

  it('ignores what is not one (the spec: an invalid header is dropped, not an error)', () => {
    for (const bad of [
      undefined,
      ['a', 'b'],
      '',
      VALID.toUpperCase(),
      `ff${VALID.slice(2)}`,
      `${VALID}-extra`, // version 00 has exactly four fields
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
      `cc${VALID.slice(2)}x`,
    ])
      expect(parseTraceparent(bad), String(bad)).toBeNull()
  })
})
