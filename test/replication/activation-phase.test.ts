import { describe, expect, it } from 'vitest'
import { activationVersionOf } from '../../agent/replication/activation-set.ts'
import { compareVersionStrings } from '../../agent/replication/digest.ts'
import { formatHlc } from '../../agent/store/hlc.ts'
import { type ActivationRecord, compareActivations } from '../../agent/store/types.ts'

const base = { origin: 'node-a' } as ActivationRecord
const at = (wall: number, phase?: ActivationRecord['phase']): ActivationRecord => ({
  ...base,
  hlc: formatHlc(wall, 0),
  ...(phase ? { phase } : {}),
})

describe('the order of an activation record’s phases', () => {
  it('keeps a finished record over a lost one over a marker, whatever their stamps, in the store and in digests', () => {
    const records = [at(3000, 'running'), at(2000, 'lost'), at(1000), at(900, 'lost'), at(1500)]
    const byStore = [...records].sort(compareActivations)
    const byDigest = [...records].sort((a, b) =>
      compareVersionStrings(activationVersionOf(a), activationVersionOf(b)),
    )
    expect(byDigest).toEqual(byStore)
    expect(byStore.map((r) => `${r.phase ?? 'done'}@${r.hlc.slice(11, 15)}`)).toEqual([
      'running@3000',
      'lost@0900',
      'lost@2000',
      'done@1000',
      'done@1500',
    ])
    // A finished record keeps the version it had before phases existed.
    expect(activationVersionOf(at(1000))).toBe(`${formatHlc(1000, 0)}|node-a`)
  })
})
