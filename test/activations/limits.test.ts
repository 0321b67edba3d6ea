import { describe, expect, it } from 'vitest'
import { NamespaceLimiter } from '../../agent/activations/limits.ts'
import { isFnError } from '../../agent/errors.ts'
import type { NamespaceLimits } from '../../agent/store/index.ts'

function limiter(
  limits: Record<string, NamespaceLimits>,
  peers: Array<Record<string, number>>,
  now = { t: 0 },
) {
  return new NamespaceLimiter({
    limits: async (ns) => limits[ns] ?? null,
    peers: () => peers,
    now: () => now.t,
  })
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    if (isFnError(err) && err.code === 'TOO_MANY_REQUESTS') return err.message
    throw err
  }
  throw new Error('expected a 429')
}

describe('per-namespace limits', () => {
  it('counts activations in flight here plus what the peers gossiped, and frees a slot on release', async () => {
    const peers: Array<Record<string, number>> = [{ a: 1 }, { b: 5 }]
    const l = limiter({ a: { concurrent: 3 } }, peers)
    const r1 = await l.admit('a')
    await l.admit('a')
    expect(l.load()).toMatchObject({ a: 2, 'a/min': 2 })
    // 2 here + 1 on a peer = 3: full.
    expect(await refusal(l.admit('a'))).toBe('Too many concurrent requests in flight (count: 4, allowed: 3).')
    // Another namespace, without limits, runs.
    await l.admit('b')
    r1()
    r1() // a second release changes nothing
    await l.admit('a')
    expect(l.load().a).toBe(2)
  })

  it('counts invocations per minute across the cluster, afresh each minute', async () => {
    const now = { t: 60_000 * 100 + 5 }
    const peers: Array<Record<string, number>> = [{ 'a/min': 3 }]
    const l = limiter({ a: { perMinute: 5 } }, peers, now)
    ;(await l.admit('a'))()
    ;(await l.admit('a'))()
    expect(await refusal(l.admit('a'))).toBe('Too many requests in the last minute (count: 6, allowed: 5).')
    now.t += 60_000
    peers[0] = {}
    ;(await l.admit('a'))()
    expect(l.load()).toEqual({ 'a/min': 1 })
  })
})
