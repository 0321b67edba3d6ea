import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { writeClusterKey } from '../../agent/cluster/index.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { type ReplProcess, spawnRepl } from './fixtures/spawn.ts'

describe('replication between processes', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => {})
    cleanup.length = 0
  })

  it('records stay readable from the others after the node that ran them is killed (kill -9)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'fnagent-repl-proc-'))
    cleanup.push(() => rm(root, { recursive: true, force: true }))
    const keyFile = join(root, 'cluster.key')
    await writeClusterKey(keyFile)
    const nodes: ReplProcess[] = []
    for (let i = 0; i < 4; i++) {
      const n = await spawnRepl({ dir: join(root, `n${i}`), keyFile, options: { replicas: 2 } })
      cleanup.push(() => n.quit())
      if (i > 0) await n.send(`join ${nodes[0]!.addrs[0]}`)
      nodes.push(n)
    }
    await waitFor(
      async () =>
        (await Promise.all(nodes.map((n) => n.send<string[]>('members')))).every((m) => m.length === 4),
      { what: 'every process sees four live members', timeoutMs: 30_000 },
    )
    const [a, ...others] = nodes as [ReplProcess, ...ReplProcess[]]
    const ids = await a.send<string[]>('store 50')
    await waitFor(async () => (await a.send<{ underReplicated: number }>('status')).underReplicated === 0, {
      what: 'every record confirmed on its owners',
      timeoutMs: 30_000,
    })
    await a.kill9()
    for (const n of others) {
      for (const id of ids)
        expect((await n.send<{ activationId: string } | null>(`get ${id}`))?.activationId).toBe(id)
    }
    // With A gone, the survivors restore R copies of each record among themselves.
    await waitFor(
      async () =>
        (await Promise.all(others.map((n) => n.send<number>('count')))).reduce((x, y) => x + y) >= 100,
      { what: 'two copies of every record among the survivors', timeoutMs: 30_000 },
    )
  })
})
