import { describe, expect, it } from 'vitest'
import { FunctionLabels, OTHER } from '../../agent/metrics/index.ts'

describe('per-function label values', () => {
  it('keeps the first max functions and counts every later one under _other, for good', () => {
    const labels = new FunctionLabels(2)
    expect(labels.of('guest', 'a')).toEqual(['guest', 'a'])
    expect(labels.of('t1', 'b')).toEqual(['t1', 'b'])
    expect(labels.of('guest', 'c')).toEqual([OTHER, OTHER])
    // Seen ones keep theirs; a later one never takes a place.
    expect(labels.of('guest', 'a')).toEqual(['guest', 'a'])
    expect(labels.of('guest', 'c')).toEqual([OTHER, OTHER])
  })
})
