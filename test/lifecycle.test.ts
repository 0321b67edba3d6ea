import { describe, expect, it } from 'vitest'
import { Lifecycle, type Startable } from '../agent/lifecycle.ts'
import { silentLogger } from '../agent/log.ts'

function recorder(log: string[], name: string, failStart = false, failStop = false): Startable {
  return {
    start: async () => {
      log.push(`start ${name}`)
      if (failStart) throw new Error(`${name} cannot start`)
    },
    stop: async () => {
      log.push(`stop ${name}`)
      if (failStop) throw new Error(`${name} cannot stop`)
    },
  }
}

describe('the lifecycle of an agent’s services', () => {
  it('starts in the order added, stops in reverse, each once, and says where it is', async () => {
    const log: string[] = []
    const l = new Lifecycle(silentLogger())
    for (const n of ['store', 'invoker', 'api']) l.add(n, recorder(log, n))
    expect(l.state).toBe('new')
    await l.start()
    await l.start()
    expect(l.state).toBe('running')
    await l.stop()
    await l.stop()
    expect(l.state).toBe('stopped')
    expect(log).toEqual([
      'start store',
      'start invoker',
      'start api',
      'stop api',
      'stop invoker',
      'stop store',
    ])
  })

  it('a failed start stops what already started, and a failed stop does not keep the rest running', async () => {
    const log: string[] = []
    const l = new Lifecycle(silentLogger())
    l.add('store', recorder(log, 'store'))
    l.add('invoker', recorder(log, 'invoker', false, true))
    l.add('cluster', recorder(log, 'cluster', true))
    l.add('api', recorder(log, 'api'))
    await expect(l.start()).rejects.toThrow('cluster cannot start')
    expect(l.state).toBe('stopped')
    expect(log).toEqual(['start store', 'start invoker', 'start cluster', 'stop invoker', 'stop store'])
  })

  it('a stop that never ends is given up after its deadline, and the services before it still stop', async () => {
    const log: string[] = []
    const l = new Lifecycle(silentLogger(), { stopTimeoutMs: 10_000 })
    l.add('store', recorder(log, 'store'))
    l.add(
      'invoker',
      { start: async () => {}, stop: () => new Promise<void>(() => {}) },
      { stopTimeoutMs: 50 },
    )
    l.add('api', recorder(log, 'api'))
    await l.start()
    await l.stop()
    expect(l.state).toBe('stopped')
    expect(log).toEqual(['start store', 'start api', 'stop api', 'stop store'])
  })
})
