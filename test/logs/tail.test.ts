import { describe, expect, it } from 'vitest'
import { LogTail } from '../../agent/logs/index.ts'
import type { ActivationRecord } from '../../agent/store/types.ts'

let n = 0
function record(name: string, logs: string[]): ActivationRecord {
  n++
  return {
    activationId: n.toString(16).padStart(32, '0'),
    namespace: 'guest',
    name,
    node: 'node-c',
    start: n,
    end: n + 1,
    logs,
    response: { status: 'success' },
  } as unknown as ActivationRecord
}

describe('a node log tail', () => {
  it('starts a follower at the current position and gives it what finishes after', () => {
    const tail = new LogTail({ bufferEntries: 10 })
    tail.add(record('f', ['before']))
    const first = tail.read(-1, undefined, 10_000)
    expect(first.entries).toEqual([])
    tail.add(record('f', ['after']))
    tail.add(record('quiet', []))
    const next = tail.read(first.next, undefined, 10_000)
    expect(next.entries.map((e) => e.logs)).toEqual([['after']])
    expect(tail.read(next.next, undefined, 10_000).entries).toEqual([])
  })

  it('filters by function on the node, and skips past what it filtered', () => {
    const tail = new LogTail({ bufferEntries: 10 })
    const at = tail.read(-1, undefined, 10_000).next
    tail.add(record('f', ['f1']))
    tail.add(record('g', ['g1']))
    tail.add(record('f', ['f2']))
    const got = tail.read(at, 'guest/f', 10_000)
    expect(got.entries.flatMap((e) => e.logs)).toEqual(['f1', 'f2'])
    expect(tail.read(got.next, 'f', 10_000).entries).toEqual([])
  })

  it('bounds an answer in bytes, keeps the tail of an oversized entry, and counts what was overwritten', () => {
    const tail = new LogTail({ bufferEntries: 3 })
    const at = tail.read(-1, undefined, 10_000).next
    const line = 'x'.repeat(1000)
    for (let i = 0; i < 5; i++) tail.add(record('f', [`${i}`, line]))
    const got = tail.read(at, undefined, 1500)
    // Two of the five were overwritten before they were asked for; one entry fits 1500 bytes.
    expect(got.missed).toBe(2)
    expect(got.entries).toHaveLength(1)
    expect(got.entries[0]!.logs[0]).toBe('2')
    const big = new LogTail({ bufferEntries: 3 })
    const pos = big.read(-1, undefined, 4096).next
    big.add(
      record(
        'f',
        Array.from({ length: 50 }, (_, i) => `${i} ${line}`),
      ),
    )
    const cut = big.read(pos, undefined, 4096).entries[0]!
    expect(cut.truncated).toBeGreaterThan(40)
    expect(cut.logs.at(-1)).toBe(`49 ${line}`)
  })

  it('wakes a waiting poll when an activation finishes', async () => {
    const tail = new LogTail({ bufferEntries: 10 })
    const at = tail.read(-1, undefined, 10_000).next
    const waited = tail.wait(at, 60_000, AbortSignal.timeout(60_000))
    tail.add(record('f', ['now']))
    await waited
    expect(tail.read(at, undefined, 10_000).entries).toHaveLength(1)
  })
})
