import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { type AgentHandle, Cleanup } from '../helpers/agent-process.ts'
import { createCluster, type LocalCluster } from '../helpers/cluster.ts'
import { waitFor } from '../helpers/wait-for.ts'

// Sequences across a real 3-node cluster: real agent processes over libp2p, real containers, the
// real CLI. Each record has one owner (replicas 1), so reading it on every node goes through the
// cluster, not a local copy.
const cleanup = new Cleanup()
let cluster: LocalCluster

beforeAll(async () => {
  cluster = await createCluster(3, cleanup, { env: { FNAGENT_REPLICATION_REPLICAS: '1' } })
  const file = (name: string, text: string) => {
    writeFileSync(join(cluster.root, name), text)
    return join(cluster.root, name)
  }
  const [a] = cluster.agents as [AgentHandle]
  const deploy = async (...args: string[]) => {
    const r = await a.cli(['fn', 'create', ...args, '--wait-replicas', '3'])
    if (r.code !== 0) throw new Error(r.stderr)
  }
  await deploy('split', file('split.js', "function main(p) { return { words: p.text.split(' ') } }\n"))
  await deploy(
    'upper',
    file('upper.py', "def main(args):\n    return {'words': [w.upper() for w in args['words']]}\n"),
  )
  await deploy('join', file('join.js', "function main(p) { return { text: p.words.join('-') } }\n"))
  await deploy('fail', file('fail.js', "function main(p) { return { error: 'no ' + p.words[0] } }\n"))
}, 240_000)
afterAll(() => cleanup.run())

const json = <T>(r: { code: number; stdout: string; stderr: string }): T => {
  if (r.code !== 0) throw new Error(r.stderr || r.stdout)
  return JSON.parse(r.stdout) as T
}
const annotation = (rec: ActivationRecord, key: string) => rec.annotations.find((x) => x.key === key)?.value

/** The record as one node answers it, waiting (bounded) for its push to the owner. */
const readOn = (agent: AgentHandle, id: string) =>
  waitFor(
    async () => {
      const r = await agent.cli(['--json', 'activation', 'get', id])
      return r.code === 0 ? (JSON.parse(r.stdout) as ActivationRecord) : null
    },
    { what: `activation ${id} on ${agent.dataDir}`, timeoutMs: 30_000, everyMs: 250 },
  )

describe('sequences on a 3-node cluster', () => {
  it('a Node, Python, Node sequence returns the composed result; every record is readable on every node', async () => {
    const [a, b] = cluster.agents as [AgentHandle, AgentHandle]
    const created = await b.cli([
      'fn',
      'create',
      'shout',
      '--sequence',
      'split,upper,join',
      '--wait-replicas',
      '3',
    ])
    expect(created.code, created.stderr).toBe(0)
    const got = json<{ kind: string; components: string[] }>(await a.cli(['--json', 'fn', 'get', 'shout']))
    expect(got).toMatchObject({ kind: 'sequence', components: ['split', 'upper', 'join'] })

    const rec = json<ActivationRecord>(
      await a.cli(['--json', 'invoke', 'shout', '-p', 'text', 'to every node']),
    )
    expect(rec.response).toMatchObject({ status: 'success', result: { text: 'TO-EVERY-NODE' } })
    expect(rec.logs).toHaveLength(3)
    expect(annotation(rec, 'topmost')).toBe(true)
    expect(annotation(rec, 'kind')).toBe('sequence')
    for (const agent of cluster.agents) {
      const seq = await readOn(agent, rec.activationId)
      expect(seq.logs).toEqual(rec.logs)
      const parts = await Promise.all(rec.logs.map((id) => readOn(agent, id)))
      expect(parts.map((p) => p.name)).toEqual(['split', 'upper', 'join'])
      for (const p of parts) {
        expect(p.cause).toBe(rec.activationId)
        expect(annotation(p, 'causedBy')).toBe('sequence')
        // Each component went through placement on its own (warm locality per component).
        expect(annotation(p, 'placement')).toBeDefined()
      }
      expect(parts[1]!.response.result).toEqual({ words: ['TO', 'EVERY', 'NODE'] })
    }
  })

  it('a failing component stops the sequence with its error; a cycle is refused when created', async () => {
    const [a, , c] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle]
    expect((await a.cli(['fn', 'create', 'broken', '--sequence', 'split,fail,join'])).code).toBe(0)
    const r = await c.cli(['--json', 'invoke', 'broken', '-p', 'text', 'halt here'])
    const rec = JSON.parse(r.stdout) as ActivationRecord
    expect(r.code).toBe(1)
    expect(rec.response).toMatchObject({ status: 'application error', result: { error: 'no halt' } })
    expect(rec.logs).toHaveLength(2)

    const self = await a.cli(['--json', 'fn', 'update', 'broken', '--sequence', 'split,broken'])
    expect(self.code).not.toBe(0)
    expect(self.stderr).toContain('Sequence may not refer to itself.')
    expect((await a.cli(['fn', 'create', 'wrapper', '--sequence', 'broken'])).code).toBe(0)
    const through = await a.cli(['fn', 'update', 'broken', '--sequence', 'wrapper,join'])
    expect(through.code).not.toBe(0)
    expect(through.stderr).toContain('INVALID_SEQUENCE')
    expect(through.stderr).toContain('Sequence may not refer to itself.')
  })
})
