import { describe, expect, it } from 'vitest'
import { pickEvictions, resolveBudgetMiB } from '../../agent/invoker/capacity.ts'
import { invokerOptionsSchema } from '../../agent/invoker/options.ts'
import { fromRun } from '../../agent/invoker/result.ts'

const c = (name: string, memoryMiB: number, lastUsed: number, prewarm = false) => ({
  name,
  memoryMiB,
  lastUsed,
  prewarm,
})

describe('capacity', () => {
  it('takes the budget from the option, else a share of system memory', () => {
    expect(resolveBudgetMiB(invokerOptionsSchema.parse({ memoryBudgetMiB: 1000 }), 8192)).toBe(1000)
    expect(resolveBudgetMiB(invokerOptionsSchema.parse({}), 8192)).toBe(4096)
  })

  it('evicts least recently used idle warm containers first, prewarmed containers last', () => {
    const idle = [c('stem', 256, 0, true), c('new', 256, 30), c('old', 256, 10), c('mid', 256, 20)]
    expect(pickEvictions(idle, 256, 0)?.map((x) => x.name)).toEqual(['old'])
    expect(pickEvictions(idle, 512, 100)?.map((x) => x.name)).toEqual(['old', 'mid'])
    expect(pickEvictions(idle, 1024, 0)?.map((x) => x.name)).toEqual(['old', 'mid', 'new', 'stem'])
  })

  it('evicts nothing when it fits and reports when nothing could make it fit', () => {
    expect(pickEvictions([c('a', 256, 0)], 256, 300)).toEqual([])
    expect(pickEvictions([c('a', 256, 0)], 1024, 300)).toBeNull()
  })
})

describe('result mapping', () => {
  const reply = (status: number, body: string) => ({
    status,
    body: Buffer.from(body),
    tooLarge: false,
    size: Buffer.byteLength(body),
  })
  it('follows OpenWhisk: 200 object or array success, 200 with error application error, other developer error', () => {
    expect(fromRun(reply(200, '{"a":1}'), 1e6)).toMatchObject({
      status: 'success',
      statusCode: 0,
      result: { a: 1 },
    })
    expect(fromRun(reply(502, '{"error":"x"}'), 1e6)).toMatchObject({
      status: 'action developer error',
      result: { error: 'x' },
    })
    expect(fromRun(reply(200, '{"error":"resolved"}'), 1e6)).toMatchObject({
      status: 'application error',
      statusCode: 1,
      result: { error: 'resolved' },
    })
    expect(fromRun(reply(200, '[1]'), 1e6)).toMatchObject({ status: 'success', result: [1] })
    expect(fromRun(reply(502, '[1]'), 1e6)).toMatchObject({ status: 'action developer error', statusCode: 2 })
    expect(fromRun(reply(200, '42'), 1e6)).toMatchObject({
      status: 'action developer error',
      result: { error: 'The action did not produce a valid JSON or JSON Array response: 42' },
    })
    expect(fromRun(reply(200, 'nope'), 1e6)).toMatchObject({ status: 'action developer error' })
    expect(fromRun(reply(502, '{"other":1}'), 1e6)).toMatchObject({ status: 'action developer error' })
  })
})
