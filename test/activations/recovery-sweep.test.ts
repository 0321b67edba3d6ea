import { describe, expect, it } from 'vitest'
import { ActivationRecovery } from '../../agent/activations/recovery.ts'
import { silentLogger } from '../../agent/log.ts'
import { HybridClock } from '../../agent/store/hlc.ts'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { activationRecord, functionRecord } from '../helpers/records.ts'
import { tempStores } from '../helpers/temp-store.ts'

const stores = tempStores('fnagent-recovery-sweep-')

/** The marker of a queued job driven by `node`. */
function jobMarker(node: string): ActivationRecord {
  const fn = functionRecord()
  return {
    ...activationRecord({ node, phase: 'running' }),
    job: { fn, params: {}, priority: 0, accepted: Date.now(), attempt: 0, attempts: [] },
  } as ActivationRecord
}

describe('the running-marker sweep', () => {
  it('reaches every marker of a dead node in turn, even with more markers than one sweep checks', async () => {
    const store = await stores.open()
    const markers = Array.from({ length: 600 }, () => jobMarker('dead-peer'))
    await store.activations.putManyIfNewer(markers)
    const offered = new Set<string>()
    const recovery = new ActivationRecovery({
      logger: silentLogger(),
      store,
      clock: new HybridClock(),
      nodeId: 'self',
      running: () => false,
      memberState: (peer) => (peer === 'dead-peer' ? 'dead' : 'alive'),
      fetchRecord: async () => null,
      onRecord: () => {},
      // Not this node's to take (another owner is first): the markers stay, the sweep moves on.
      requeue: async (marker) => {
        offered.add(marker.activationId)
        return false
      },
    })
    for (let i = 0; i < 3; i++) await recovery.sweep()
    expect(offered.size).toBe(600)
    // None was declared lost: a job is run again, never lost.
    for (const m of markers) expect((await store.activations.get(m.activationId))?.phase).toBe('running')
  })
})
