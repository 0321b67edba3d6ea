import { afterAll, describe, expect, it } from 'vitest'
import { owFetch, startApiAgent } from '../api/helpers.ts'
import { Cleanup, removeDir, startAgent } from '../helpers/agent-process.ts'
import { Scrape } from '../helpers/prometheus.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run())

describe('where /metrics is served', () => {
  it('on its own address when the OpenWhisk API is off', async () => {
    const agent = await startAgent({ args: ['--no-cluster'], env: { FNAGENT_METRICS_LISTEN: '127.0.0.1:0' } })
    cleanup.add(() => removeDir(agent.dataDir))
    cleanup.add(() => agent.stop())
    const url = await waitFor(
      () => /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"metrics listening"/.exec(agent.output())?.[1] ?? '',
      { what: 'the metrics listener', timeoutMs: 30_000 },
    )
    const s = await Scrape.of(`${url}/metrics`)
    expect(s.type('fnagent_activations_total')).toBe('COUNTER')
    expect(s.sum('fnagent_memory_budget_bytes')).toBeGreaterThan(0)
    // Alone: no members, no gossip.
    expect(s.sum('fnagent_members')).toBe(0)
    expect((await fetch(`${url}/api/v1`)).status).toBe(404)
  })

  it('nowhere when metrics are off', async () => {
    const { apihost } = await startApiAgent(cleanup, { env: { FNAGENT_METRICS_ENABLED: 'false' } })
    const r = await owFetch(apihost, null, 'GET', '/metrics')
    expect(r.status).toBe(401)
  })
})
