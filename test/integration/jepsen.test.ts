/**
 * Jepsen-style consistency check over three real agent processes.
 *
 * For a bounded time, one client per node creates, updates, deletes and invokes functions and reads
 * activation records through that node's unix-socket API, while a nemesis kills (-9) and restarts
 * agents, isolates one from the others, heals, and runs one agent's clock ahead of the others. The
 * faults use the agents' test-only fault injection (config `faults`, refused unless
 * `faults.enabled`; see agent/faults.ts): a file each agent re-reads every 200 ms gives its clock
 * offset and the peers whose connections its libp2p connection gater refuses and hangs up on.
 *
 * After healing it checks: identical digests (function metadata and activation records) on every
 * node; every function's head is the same everywhere and is the write that wins by
 * last-writer-wins (HLC, then origin) among the acknowledged writes (or a later write whose
 * answer never came back); no acknowledged write lost (a write that lost was answered 409
 * WRITE_LOST); every activation id ever returned resolves on every node to a finished record.
 * It prints operations, faults and anomalies; the history is kept in a file when anomalies exist.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { compareVersions } from '../../agent/store/hlc.ts'
import type { ActivationRecord, FunctionRecord } from '../../agent/store/types.ts'
import {
  type AgentHandle,
  Cleanup,
  cli,
  removeContainersOf,
  removeDir,
  startAgent,
  tempDir,
} from '../helpers/agent-process.ts'
import { waitFor } from '../helpers/wait-for.ts'

const N = 3
/** How long the clients and the nemesis run, ms (the whole file stays well under 3 minutes). */
const WORKLOAD_MS = 45_000
const FUNCTIONS = ['f0', 'f1', 'f2', 'f3']
/** The skewed clock runs this far ahead, past the agents' max drift (clock.maxDriftMs below). */
const SKEW_MS = 8_000
const MAX_DRIFT_MS = 2_000

const cleanup = new Cleanup()
afterAll(() => cleanup.run())

interface Answer {
  status: number
  body: unknown
}

/** One request to an agent's unix-socket API; throws when the agent does not answer. */
function api(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 15_000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body)
    const req = httpRequest(
      {
        socketPath: socket,
        method,
        path,
        timeout: timeoutMs,
        headers: data
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }
          : {},
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          text += d
        })
        res.on('end', () => {
          let parsed: unknown = text
          try {
            parsed = text ? JSON.parse(text) : undefined
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body: parsed })
        })
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(data)
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => resolve(port))
    })
  })
}

/** A write as the history keeps it: what was asked, and what the agent answered. */
interface WriteOp {
  kind: 'put' | 'delete'
  fn: string
  node: number
  w: string
  /** `ok`: acknowledged; `lost`: answered WRITE_LOST; `refused`: a clean refusal (404/409 create); `unknown`: no answer. */
  outcome: 'ok' | 'lost' | 'refused' | 'unknown'
  /** The acknowledged record (a put's version, a delete's tombstone). */
  record?: FunctionRecord
  error?: string
  at: number
}

interface History {
  writes: WriteOp[]
  invokes: Array<{ node: number; fn: string; id?: string; status: number | 'unknown'; at: number }>
  reads: number
  faults: Array<{ at: number; what: string }>
  anomalies: string[]
}

/** JSON with sorted keys: records stored by different paths may list their fields in another order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  )
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!
const lww = (r: FunctionRecord) => ({ hlc: r.updated, origin: r.origin })

describe('consistency under kills, partitions and clock skew (Jepsen-style)', () => {
  it('converges to the last-writer-wins winners, loses no acknowledged write and resolves every activation id', async () => {
    const root = tempDir('i16-jepsen-')
    const keyFile = join(root, 'cluster.key')
    const init = await cli(['cluster', 'init', '--key-file', keyFile])
    expect(init.code, init.stderr).toBe(0)
    const ports = await Promise.all(Array.from({ length: N }, () => freePort()))
    const dirs = ports.map((_, i) => join(root, `n${i}`))
    const faultFiles = dirs.map((d) => join(root, `${d.split('/').pop()}-faults.json`))
    const addr = (i: number) => `/ip4/127.0.0.1/tcp/${ports[i]}`
    const agents: Array<AgentHandle | null> = Array.from({ length: N }, () => null)
    const nodeIds: string[] = []
    const history: History = { writes: [], invokes: [], reads: 0, faults: [], anomalies: [] }
    let t0 = Date.now()
    const fault = (what: string) => {
      history.faults.push({ at: Date.now() - t0, what })
    }
    const faults = dirs.map(() => ({ clockOffsetMs: 0, cut: [] as string[] }))
    const writeFaults = (i: number) => writeFileSync(faultFiles[i]!, JSON.stringify(faults[i]))

    const start = async (i: number) => {
      const config = {
        faults: { enabled: true, file: faultFiles[i] },
        clock: { maxDriftMs: MAX_DRIFT_MS },
        replication: { antiEntropyMs: 300, requestTimeoutMs: 3000 },
        cluster: { heartbeatMs: 500, suspectMs: 1500, deadMs: 3000 },
        logLevel: 'info',
      }
      mkdirSync(dirs[i]!, { recursive: true })
      writeFileSync(join(dirs[i]!, 'config.json'), JSON.stringify(config))
      writeFaults(i)
      const agent = await startAgent({
        dataDir: dirs[i],
        args: ['--cluster-key', keyFile, '--listen', addr(i)],
        env: { FNAGENT_LOG_LEVEL: 'info' },
      })
      agents[i] = agent
      return agent
    }
    cleanup.add(async () => {
      for (const a of agents) await a?.stop()
      for (const id of nodeIds) await removeContainersOf(id)
    })

    for (let i = 0; i < N; i++) {
      const a = await start(i)
      nodeIds.push(((await api(a.socket, 'GET', '/v1/status')).body as { nodeId: string }).nodeId)
    }
    const join_ = async (i: number) => {
      for (let j = 0; j < N; j++) {
        if (j === i) continue
        await api(agents[i]!.socket, 'POST', '/v1/cluster/join', {
          peer: `${addr(j)}/p2p/${nodeIds[j]}`,
        }).catch(() => {})
      }
    }
    for (let i = 1; i < N; i++) await join_(i)
    const aliveEverywhere = async () => {
      for (const a of agents) {
        const view = (await api(a!.socket, 'GET', '/v1/peers')).body as Array<{ state: string }>
        if (view.filter((m) => m.state === 'alive').length !== N) return false
      }
      return true
    }
    await waitFor(aliveEverywhere, {
      what: 'every agent alive in every view',
      timeoutMs: 60_000,
      everyMs: 250,
    })
    const code = Buffer.from('function main(p) { return { w: p.w } }\n').toString('base64')

    // ---- clients ----
    t0 = Date.now()
    const end = t0 + WORKLOAD_MS
    // Every kind of fault happens at least once, however slow a restart is on a loaded machine:
    // the clients go on until the nemesis is done.
    let nemesisDone = false
    let seq = 0
    const ids: string[] = []
    const client = async (node: number) => {
      while (Date.now() < end || !nemesisDone) {
        const agent = agents[node]
        if (!agent) {
          await sleep(200)
          continue
        }
        const fn = pick(FUNCTIONS)
        const w = `c${node}-${++seq}`
        const r = Math.random()
        try {
          if (r < 0.4) {
            const op: WriteOp = { kind: 'put', fn, node, w, outcome: 'unknown', at: Date.now() - t0 }
            history.writes.push(op)
            const body = {
              kind: 'nodejs:24',
              parameters: { w },
              limits: { timeout: 10_000 },
              code,
            }
            const res = await api(agent.socket, 'PUT', `/v1/functions/${fn}`, body)
            settle(op, res)
          } else if (r < 0.55) {
            const op: WriteOp = { kind: 'delete', fn, node, w, outcome: 'unknown', at: Date.now() - t0 }
            history.writes.push(op)
            settle(op, await api(agent.socket, 'DELETE', `/v1/functions/${fn}`))
          } else if (r < 0.85) {
            const blocking = Math.random() < 0.3
            const entry: History['invokes'][number] = { node, fn, status: 'unknown', at: Date.now() - t0 }
            history.invokes.push(entry)
            const res = await api(
              agent.socket,
              'POST',
              `/v1/functions/${fn}/invoke`,
              { blocking, params: {} },
              30_000,
            )
            entry.status = res.status
            const id = (res.body as { activationId?: string } | undefined)?.activationId
            if ((res.status === 200 || res.status === 202) && id) {
              entry.id = id
              ids.push(id)
            }
          } else if (ids.length > 0) {
            history.reads++
            await api(agent.socket, 'GET', `/v1/activations/${pick(ids)}`)
          }
        } catch {
          // The agent died under the request: the outcome stays unknown.
          await sleep(100)
        }
      }
    }
    const settle = (op: WriteOp, res: Answer) => {
      // Local API errors are `{"error": {"code", "message"}}`.
      const code = (res.body as { error?: { code?: string } } | undefined)?.error?.code
      if (res.status === 200 || res.status === 201) {
        op.outcome = 'ok'
        op.record = res.body as FunctionRecord
      } else if (res.status === 409 && code === 'WRITE_LOST') {
        op.outcome = 'lost'
      } else if (res.status === 404 || res.status === 409) {
        op.outcome = 'refused'
        op.error = `${res.status} ${code}`
      } else {
        op.outcome = 'unknown'
        op.error = `${res.status} ${JSON.stringify(res.body)}`
      }
    }

    // ---- nemesis ----
    const nemesis = async () => {
      const kinds = ['kill', 'partition', 'skew'] as const
      let k = 0
      await sleep(3000)
      while (Date.now() < end - 8000 || k < kinds.length) {
        const victim = Math.floor(Math.random() * N)
        const kind = kinds[k++ % kinds.length]!
        if (kind === 'kill') {
          fault(`kill -9 n${victim}`)
          const a = agents[victim]!
          agents[victim] = null
          await a.kill9()
          await sleep(1500)
          await start(victim)
          await join_(victim)
          fault(`restarted n${victim}`)
        } else if (kind === 'partition') {
          fault(`isolate n${victim}`)
          for (let j = 0; j < N; j++) {
            faults[j]!.cut = j === victim ? nodeIds.filter((_, x) => x !== victim) : [nodeIds[victim]!]
            writeFaults(j)
          }
          await sleep(5000)
          for (let j = 0; j < N; j++) {
            faults[j]!.cut = []
            writeFaults(j)
          }
          fault('heal')
        } else {
          fault(`skew n${victim} clock +${SKEW_MS} ms`)
          faults[victim]!.clockOffsetMs = SKEW_MS
          writeFaults(victim)
          await sleep(5000)
          faults[victim]!.clockOffsetMs = 0
          writeFaults(victim)
          fault(`restore n${victim} clock`)
        }
        await sleep(1500)
      }
    }
    await Promise.all([
      ...Array.from({ length: N }, (_, i) => client(i)),
      nemesis().finally(() => {
        nemesisDone = true
      }),
    ])

    // ---- heal and converge ----
    for (let j = 0; j < N; j++) {
      faults[j] = { clockOffsetMs: 0, cut: [] }
      writeFaults(j)
    }
    for (let i = 0; i < N; i++) await join_(i)
    await waitFor(aliveEverywhere, {
      what: 'every agent alive after healing',
      timeoutMs: 60_000,
      everyMs: 250,
    })
    const digestsOf = async () =>
      Promise.all(
        agents.map(
          async (a) =>
            (await api(a!.socket, 'GET', '/v1/replication/digests')).body as {
              functions: string
              activations: string
            },
        ),
      )
    let digests = await digestsOf()
    try {
      await waitFor(
        async () => {
          digests = await digestsOf()
          return digests.every(
            (d) => d.functions === digests[0]!.functions && d.activations === digests[0]!.activations,
          )
        },
        { what: 'identical digests on every node', timeoutMs: 90_000, everyMs: 500 },
      )
    } catch {
      history.anomalies.push(`digests differ after healing: ${JSON.stringify(digests)}`)
      // Which records differ (local lists, finished records only).
      const lists = await Promise.all(
        agents.map(
          async (a) =>
            new Map(
              ((await api(a!.socket, 'GET', '/v1/activations?limit=200')).body as ActivationRecord[]).map(
                (r) => [r.activationId, `${r.hlc}/${r.origin.slice(-6)}/${r.phase ?? 'done'}`],
              ),
            ),
        ),
      )
      const all = new Set(lists.flatMap((m) => [...m.keys()]))
      for (const id of all) {
        const vs = lists.map((m) => m.get(id) ?? 'missing')
        if (new Set(vs).size > 1) history.anomalies.push(`record ${id} differs: ${vs.join(' | ')}`)
      }
      // Which function versions differ (version:hlc/origin, D for a tombstone).
      for (const fn of FUNCTIONS) {
        const vs = await Promise.all(
          agents.map(async (a) => {
            const r = await api(a!.socket, 'GET', `/v1/functions/${fn}/versions`)
            if (r.status !== 200) return `status ${r.status}`
            return (r.body as FunctionRecord[])
              .map((v) => `${v.version}:${v.updated}/${v.origin.slice(-6)}${v.deleted ? 'D' : ''}`)
              .join(',')
          }),
        )
        if (new Set(vs).size > 1) history.anomalies.push(`${fn} versions differ: ${vs.join(' | ')}`)
      }
      // Slow or stuck: one more minute.
      const t0 = Date.now()
      const late = await waitFor(
        async () => {
          digests = await digestsOf()
          return digests.every(
            (d) => d.functions === digests[0]!.functions && d.activations === digests[0]!.activations,
          )
        },
        { what: 'identical digests, a minute later', timeoutMs: 60_000, everyMs: 1000 },
      ).then(
        () => `converged ${Date.now() - t0} ms later`,
        () => `still differ a minute later: ${JSON.stringify(digests)}`,
      )
      history.anomalies.push(`digests ${late}`)
    }

    // ---- check ----
    for (const fn of FUNCTIONS) {
      const heads = await Promise.all(
        agents.map(async (a) => {
          const r = await api(a!.socket, 'GET', `/v1/functions/${fn}`)
          return r.status === 200 ? (r.body as FunctionRecord) : null
        }),
      )
      const h = heads[0]!
      if (!heads.every((x) => canonical(x) === canonical(h))) {
        history.anomalies.push(`${fn}: heads differ across nodes: ${heads.map((x) => x?.updated ?? 'none')}`)
        continue
      }
      const ops = history.writes.filter((o) => o.fn === fn)
      const acked = ops.filter((o) => o.outcome === 'ok' && o.record)
      let winner: WriteOp | undefined
      for (const o of acked)
        if (!winner || compareVersions(lww(o.record!), lww(winner.record!)) > 0) winner = o
      const unknown = ops.filter((o) => o.outcome === 'unknown')
      if (!winner) continue
      if (h === null) {
        // Deleted everywhere: the acknowledged winner is a delete, or a later delete whose answer was lost.
        if (winner.kind !== 'delete' && !unknown.some((o) => o.kind === 'delete'))
          history.anomalies.push(`${fn}: deleted, but the last acknowledged write is put ${winner.w}`)
        continue
      }
      if (compareVersions(lww(h), lww(winner.record!)) < 0)
        history.anomalies.push(
          `${fn}: head ${h.parameters.w} is older than acknowledged ${winner.w} (lost write)`,
        )
      else if (
        compareVersions(lww(h), lww(winner.record!)) > 0 &&
        !unknown.some((o) => o.w === h.parameters.w)
      )
        history.anomalies.push(
          `${fn}: head ${h.parameters.w} is newer than every acknowledged write and no unanswered one`,
        )
      else if (h.parameters.w !== winner.w && compareVersions(lww(h), lww(winner.record!)) === 0)
        history.anomalies.push(`${fn}: head ${h.parameters.w} differs from the winner ${winner.w}`)
    }
    const unresolved = new Set(ids)
    try {
      await waitFor(
        async () => {
          for (const id of [...unresolved]) {
            let everywhere = true
            for (const a of agents) {
              const r = await api(a!.socket, 'GET', `/v1/activations/${id}`)
              const rec = r.body as ActivationRecord
              if (r.status !== 200 || rec.activationId !== id || rec.phase === 'running') everywhere = false
            }
            if (everywhere) unresolved.delete(id)
          }
          return unresolved.size === 0
        },
        { what: 'every activation id resolved on every node', timeoutMs: 90_000, everyMs: 1000 },
      )
    } catch {
      for (const id of unresolved) history.anomalies.push(`activation ${id} does not resolve on every node`)
    }

    const count = (o: WriteOp['outcome'], k?: WriteOp['kind']) =>
      history.writes.filter((w) => w.outcome === o && (!k || w.kind === k)).length
    const returned = history.invokes.filter((i) => i.id).length
    const summary = {
      operations: {
        puts: {
          ok: count('ok', 'put'),
          lost: count('lost', 'put'),
          refused: count('refused', 'put'),
          unknown: count('unknown', 'put'),
        },
        deletes: {
          ok: count('ok', 'delete'),
          lost: count('lost', 'delete'),
          refused: count('refused', 'delete'),
          unknown: count('unknown', 'delete'),
        },
        invokes: { total: history.invokes.length, idsReturned: returned },
        reads: history.reads,
      },
      refusals: [
        ...new Set(history.writes.filter((w) => w.outcome === 'refused').map((w) => `${w.kind} ${w.error}`)),
      ],
      faults: history.faults.length,
      anomalies: history.anomalies.length,
    }
    console.log(`jepsen: ${JSON.stringify(summary)}`)
    console.log(`jepsen faults: ${history.faults.map((f) => `${f.at}ms ${f.what}`).join('; ')}`)
    if (history.anomalies.length > 0) {
      const file = join(tmpdir(), `i16-jepsen-history-${Date.now()}.json`)
      writeFileSync(file, JSON.stringify(history, null, 2))
      console.log(`jepsen anomalies:\n${history.anomalies.join('\n')}\nhistory kept in ${file}`)
    } else {
      removeDir(root)
    }
    expect(history.anomalies).toEqual([])
    expect(history.faults.length).toBeGreaterThanOrEqual(6)
    expect(ids.length).toBeGreaterThan(0)
  }, 300_000)
})
