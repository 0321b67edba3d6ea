import { writeFileSync } from 'node:fs'
import { Agent as HttpAgent } from 'node:http'
import { join } from 'node:path'
import type { ActivationRecord } from '../agent/store/types.ts'
import { cli, removeDir, startAgent, tempDir } from '../test/helpers/agent-process.ts'
import { socketCall } from './local-api.ts'
import { round, summarize } from './stats.ts'

/**
 * Overhead per sequence hop on one node (issue 21, goal ≤ 1 ms): a sequence of N trivial warm
 * actions against N direct invocations of the same actions, both through the local API with a
 * keep-alive client, alternated so that machine noise hits both alike. Reports
 * - `perHopMs`: (sequence − N direct) / N, what a hop costs beyond invoking the action itself
 *   (negative: the sequence saves the N − 1 API round trips it does not make);
 * - `platformPerHopMs`: (the sequence record's end − start − Σ component durations) / N, the
 *   agent's own time per component (placement, params, container HTTP, records), from the records.
 */
export async function benchComposition(
  opts: { n?: number; rounds?: number } = {},
): Promise<Record<string, unknown>> {
  const n = opts.n ?? 5
  const rounds = opts.rounds ?? 100
  const dir = tempDir()
  const agent = await startAgent({ args: ['--no-cluster'], env: { FNAGENT_LOG_LEVEL: 'warn' } })
  try {
    const names = Array.from({ length: n }, (_, i) => `step${i}`)
    writeFileSync(join(dir, 'step.js'), 'function main(p) { return { i: (p.i || 0) + 1 } }\n')
    for (const name of names) {
      const r = await cli(['--socket', agent.socket, 'fn', 'create', name, join(dir, 'step.js'), '-m', '128'])
      if (r.code !== 0) throw new Error(r.stderr)
    }
    const seq = await cli(['--socket', agent.socket, 'fn', 'create', 'chain', '--sequence', names.join(',')])
    if (seq.code !== 0) throw new Error(seq.stderr)
    const http = new HttpAgent({ keepAlive: true, maxSockets: 1 })
    const invoke = (name: string, params: object) =>
      socketCall(agent.socket, http, 'POST', `/v1/functions/${name}/invoke`, {
        params,
      }) as Promise<ActivationRecord>
    const sequence = async () => {
      const rec = await invoke('chain', { i: 0 })
      if ((rec.response.result as { i?: number }).i !== n)
        throw new Error(`bad result ${JSON.stringify(rec.response)}`)
      return rec
    }
    const direct = async () => {
      let params = { i: 0 }
      for (const name of names) params = (await invoke(name, params)).response.result as { i: number }
    }
    // Warm every container (and the sequence path) first.
    for (let i = 0; i < 5; i++) {
      await direct()
      await sequence()
    }
    const seqMs: number[] = []
    const directMs: number[] = []
    const platform: number[] = []
    const componentDurations = async (rec: ActivationRecord) => {
      let sum = 0
      for (const id of rec.logs) {
        sum += ((await socketCall(agent.socket, http, 'GET', `/v1/activations/${id}`)) as ActivationRecord)
          .duration
      }
      return sum
    }
    for (let r = 0; r < rounds; r++) {
      let t0 = performance.now()
      await direct()
      directMs.push(performance.now() - t0)
      t0 = performance.now()
      const rec = await sequence()
      seqMs.push(performance.now() - t0)
      platform.push((rec.end - rec.start - (await componentDurations(rec))) / n)
    }
    http.destroy()
    const s = summarize(seqMs)
    const d = summarize(directMs)
    return {
      hops: n,
      rounds,
      sequenceMs: s,
      directMs: d,
      perHopMs: { p50: round((s.p50 - d.p50) / n), mean: round((s.mean - d.mean) / n) },
      platformPerHopMs: summarize(platform),
    }
  } finally {
    await agent.stop()
    removeDir(agent.dataDir)
    removeDir(dir)
  }
}

if (import.meta.main) console.log(JSON.stringify(await benchComposition(), null, 2))
