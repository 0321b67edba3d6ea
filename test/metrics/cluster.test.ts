import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { apiOf, owFetch } from '../api/helpers.ts'
import { type AgentHandle, BIN, Cleanup, cli, NODE, ROOT } from '../helpers/agent-process.ts'
import { createCluster, type LocalCluster, nodeIdOf, peersOf } from '../helpers/cluster.ts'
import { Scrape } from '../helpers/prometheus.ts'
import { waitFor } from '../helpers/wait-for.ts'

/** Debian's Chromium (.ci/setup installs it). */
const CHROMIUM = '/usr/bin/chromium'
// node-pty is CommonJS with a native addon.
const pty = createRequire(import.meta.url)('node-pty') as typeof import('node-pty')

const cleanup = new Cleanup()
let cluster: LocalCluster
const hosts: string[] = []
const keys: string[] = []
const ids: string[] = []
/** What the queue test left for the dashboard: dead letters by the node that holds them, trigger fires. */
const deadOn: string[][] = [[], [], []]
let firesSeen: Record<string, number> = {}

beforeAll(async () => {
  cluster = await createCluster(3, cleanup, {
    args: ['--api-listen', '127.0.0.1:0'],
    // A callback to a closed port is given up after two quick POSTs.
    env: { FNAGENT_QUEUE_CALLBACK_ATTEMPTS: '2', FNAGENT_QUEUE_CALLBACK_BACKOFF_MS: '10' },
  })
  for (const a of cluster.agents) {
    const { host, key } = await apiOf(a)
    hosts.push(host)
    keys.push(key)
    ids.push(await nodeIdOf(a))
  }
  writeFileSync(join(cluster.root, 'echo.js'), 'function main(p) { return { echo: p.v } }\n')
  writeFileSync(join(cluster.root, 'fails.js'), "function main() { return { error: 'no' } }\n")
}, 180_000)
afterAll(() => cleanup.run())

const start = (r: ActivationRecord) => r.annotations.find((a) => a.key === 'start')?.value as string

describe('Prometheus metrics of a 3-node cluster', () => {
  it('counts a known workload on every node: invocations by function, status and start kind, placements', async () => {
    const [a] = cluster.agents as [AgentHandle]
    for (const [name, file] of [
      ['f', 'echo.js'],
      ['e', 'fails.js'],
    ] as const) {
      const created = await a.cli(['fn', 'create', name, join(cluster.root, file), '--wait-replicas', '3'])
      expect(created.code, created.stderr).toBe(0)
    }
    // The workload: 30 invocations of f and 5 of e (an application error), sent round-robin to
    // the three nodes' REST APIs; placement decides where each runs.
    const records: ActivationRecord[] = []
    const received = [0, 0, 0]
    const invoke = async (name: string, i: number) => {
      const n = i % 3
      received[n]!++
      const r = await owFetch(
        hosts[n]!,
        keys[n]!,
        'POST',
        `/api/v1/namespaces/_/actions/${name}?blocking=true`,
        {
          v: i,
        },
      )
      expect([200, 502]).toContain(r.status)
      records.push(r.body as ActivationRecord)
    }
    for (let i = 0; i < 30; i++) await invoke('f', i)
    for (let i = 0; i < 5; i++) await invoke('e', i)
    const f = records.filter((r) => r.name === 'f')
    expect(f).toHaveLength(30)
    expect(records.filter((r) => r.name === 'e' && r.response.status === 'application error')).toHaveLength(5)

    const scrapes = await Promise.all(hosts.map((h) => Scrape.of(`${h}/metrics`)))
    let ranF = 0
    let failed = 0
    for (const [n, s] of scrapes.entries()) {
      expect(s.type('fnagent_activations_total')).toBe('COUNTER')
      // Each node counted exactly the activations that ran on it, by how each got its container.
      for (const kind of ['warm', 'prewarmed', 'cold']) {
        const here = f.filter((r) => r.node === ids[n] && start(r) === kind).length
        expect(
          s.sum('fnagent_activations_total', { function: 'f', start: kind, status: 'success' }),
          `${n} ${kind}`,
        ).toBe(here)
      }
      ranF += s.sum('fnagent_activations_total', { namespace: 'guest', function: 'f' })
      failed += s.sum('fnagent_activations_total', { function: 'e', status: 'application_error' })
      // Each node placed exactly the invocations it received.
      expect(s.sum('fnagent_placements_total'), `placements on ${n}`).toBe(received[n])
      expect(s.type('fnagent_invocation_duration_seconds')).toBe('HISTOGRAM')
      // Read at scrape from the services.
      expect(s.sum('fnagent_members', { state: 'alive' })).toBe(3)
      expect(s.sum('fnagent_memory_budget_bytes')).toBeGreaterThan(0)
      expect(s.sum('fnagent_store_size_bytes')).toBeGreaterThan(0)
      expect(s.sum('fnagent_gossip_messages_total', { direction: 'in' })).toBeGreaterThan(0)
      expect(s.type('fnagent_replication_repairs_total')).toBe('COUNTER')
      expect(s.sum('process_resident_memory_bytes')).toBeGreaterThan(0)
      expect(s.type('nodejs_eventloop_lag_seconds')).toBe('GAUGE')
    }
    expect(ranF).toBe(30)
    expect(failed).toBe(5)
    // Sequential invocations of one function: only the first few start a container.
    const starts = f.filter((r) => start(r) !== 'warm').length
    expect(starts).toBeGreaterThanOrEqual(1)
    const scrapedStarts = scrapes.reduce(
      (t, s) =>
        t +
        s.sum('fnagent_activations_total', { function: 'f', start: 'cold' }) +
        s.sum('fnagent_activations_total', { function: 'f', start: 'prewarmed' }),
      0,
    )
    expect(scrapedStarts).toBe(starts)
  }, 240_000)

  it('counts the queue and the triggers: jobs, retries, dead letters, callbacks, fires and rule activations', async () => {
    const [a] = cluster.agents as [AgentHandle]
    writeFileSync(join(cluster.root, 'doomed.js'), "function main() { return { error: 'always' } }\n")
    const deploy = async (name: string, file: string, extra: string[] = []) => {
      const r = await a.cli([
        'fn',
        'create',
        name,
        join(cluster.root, file),
        '--wait-replicas',
        '3',
        ...extra,
      ])
      expect(r.code, r.stderr).toBe(0)
    }
    await deploy('q', 'echo.js')
    await deploy('urgent', 'echo.js', ['-a', 'priority', '2'])
    await deploy('doomed', 'doomed.js', ['-a', 'maxRetries', '1', '-a', 'retryBackoffMs', '100'])
    await deploy('gone', 'echo.js')
    // Callbacks: a listener that takes them, and a port where nobody listens.
    let taken = 0
    const sink = createServer((req, res) => {
      req.resume()
      taken++
      res.end()
    })
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r))
    cleanup.add(() => new Promise<void>((r) => sink.close(() => r())))
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const closedPort = (closed.address() as AddressInfo).port
    await new Promise<void>((r) => closed.close(() => r()))
    const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/done`

    // Counters since start (the REST API's blocking invocations of the tests before went through
    // the queue too): the workload is the difference.
    const scrape = () => Promise.all(hosts.map((h) => Scrape.of(`${h}/metrics`)))
    const before = await scrape()
    const delta = (n: number, s: Scrape, name: string, labels: Record<string, string> = {}) =>
      s.sum(name, labels) - before[n]!.sum(name, labels)
    // The workload, each job on the node that accepts it (its queue): per node n, what it was sent.
    const jobs: Array<{ node: number; id: string }> = []
    const async = async (node: number, name: string, callback?: string) => {
      const res = await fetch(`${hosts[node]}/api/v1/namespaces/_/actions/${name}?blocking=false`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(keys[node]!).toString('base64')}`,
          'content-type': 'application/json',
          ...(callback ? { 'x-callback-url': callback } : {}),
        },
        body: '{}',
      })
      expect(res.status).toBe(202)
      const { activationId } = (await res.json()) as { activationId: string }
      jobs.push({ node, id: activationId })
      if (name === 'doomed') deadOn[node]!.push(activationId)
    }
    const sent = {
      q: [2, 1, 0],
      urgent: [0, 1, 1],
      doomed: [1, 0, 1],
      delivered: [1, 1, 0],
      undelivered: [0, 0, 1],
    }
    for (let n = 0; n < 3; n++) {
      for (let i = 0; i < sent.q[n]!; i++) await async(n, 'q')
      for (let i = 0; i < sent.urgent[n]!; i++) await async(n, 'urgent')
      for (let i = 0; i < sent.doomed[n]!; i++) await async(n, 'doomed')
      for (let i = 0; i < sent.delivered[n]!; i++) await async(n, 'q', sinkUrl)
      for (let i = 0; i < sent.undelivered[n]!; i++) await async(n, 'q', `http://127.0.0.1:${closedPort}/`)
    }

    // Triggers (replicated to every node): `push` starts q, `lost` an action deleted since, `idle` has no rule.
    for (const t of ['push', 'lost', 'idle'])
      expect(
        (await owFetch(hosts[0]!, keys[0]!, 'PUT', `/api/v1/namespaces/_/triggers/${t}`, {})).status,
      ).toBe(200)
    for (const [rule, trigger, action] of [
      ['on-push', 'push', 'q'],
      ['on-lost', 'lost', 'gone'],
    ] as const) {
      const r = await owFetch(hosts[0]!, keys[0]!, 'PUT', `/api/v1/namespaces/_/rules/${rule}`, {
        trigger: `/_/${trigger}`,
        action: `/_/${action}`,
      })
      expect(r.status, JSON.stringify(r.body)).toBe(200)
    }
    expect((await owFetch(hosts[0]!, keys[0]!, 'DELETE', '/api/v1/namespaces/_/actions/gone')).status).toBe(
      200,
    )
    for (let n = 0; n < 3; n++)
      await waitFor(
        async () =>
          (await owFetch(hosts[n]!, keys[n]!, 'GET', '/api/v1/namespaces/_/rules/on-push')).status === 200 &&
          (await owFetch(hosts[n]!, keys[n]!, 'GET', '/api/v1/namespaces/_/actions/gone')).status === 404,
        { what: `the triggers, rules and the deletion on node ${n}`, timeoutMs: 30_000 },
      )
    const fires = { push: [2, 0, 1], lost: [0, 1, 0], idle: [1, 1, 0] }
    firesSeen = Object.fromEntries(
      Object.entries(fires).map(([t, per]) => [`guest/${t}`, per.reduce((x, y) => x + y)]),
    )
    for (let n = 0; n < 3; n++)
      for (const [t, per] of Object.entries(fires))
        for (let i = 0; i < per[n]!; i++) {
          const r = await owFetch(hosts[n]!, keys[n]!, 'POST', `/api/v1/namespaces/_/triggers/${t}`, { n })
          expect(r.status).toBe(t === 'idle' ? 204 : 202)
        }

    // Every job done: its final record on the node that accepted it; every callback given its outcome.
    for (const { node, id } of jobs)
      await waitFor(
        async () => {
          const r = await owFetch(hosts[node]!, keys[node]!, 'GET', `/api/v1/namespaces/_/activations/${id}`)
          return r.status === 200 && !(r.body as { phase?: string }).phase
        },
        { what: `job ${id} done`, timeoutMs: 60_000 },
      )
    const callbacks = (n: number, s: Scrape) =>
      delta(n, s, 'fnagent_queue_callbacks_total', { outcome: 'delivered' }) +
      delta(n, s, 'fnagent_queue_callbacks_total', { outcome: 'failed' })
    await waitFor(
      async () =>
        (await scrape()).every((s, n) => callbacks(n, s) === sent.delivered[n]! + sent.undelivered[n]!),
      {
        what: 'every callback delivered or given up',
        timeoutMs: 30_000,
      },
    )
    // A trigger's rule started q on the firing node: a job of its queue too.
    const direct = (n: number) =>
      sent.q[n]! + sent.urgent[n]! + sent.doomed[n]! + sent.delivered[n]! + sent.undelivered[n]!
    await waitFor(
      async () =>
        (await scrape()).every(
          (s, n) => delta(n, s, 'fnagent_queue_jobs_done_total') === direct(n) + fires.push[n]!,
        ),
      { what: "the trigger's jobs done", timeoutMs: 60_000 },
    ).catch(() => {}) // the checks below say which count differs
    for (const [n, s] of (await scrape()).entries()) {
      const at = `node ${n}`
      expect(delta(n, s, 'fnagent_queue_jobs_done_total'), at).toBe(direct(n) + fires.push[n]!)
      // doomed: one failed run retried, then dead-lettered.
      expect(delta(n, s, 'fnagent_queue_retries_total'), at).toBe(sent.doomed[n])
      expect(delta(n, s, 'fnagent_queue_dead_letters_total'), at).toBe(sent.doomed[n])
      expect(delta(n, s, 'fnagent_queue_callbacks_total', { outcome: 'delivered' }), at).toBe(
        sent.delivered[n],
      )
      expect(delta(n, s, 'fnagent_queue_callbacks_total', { outcome: 'failed' }), at).toBe(
        sent.undelivered[n],
      )
      expect(delta(n, s, 'fnagent_queue_takeovers_total'), at).toBe(0)
      for (const p of ['0', '1', '2']) expect(s.sum('fnagent_queue_depth', { priority: p }), at).toBe(0)
      expect(s.sum('fnagent_queue_running'), at).toBe(0)
      expect(s.type('fnagent_queue_wait_seconds')).toBe('HISTOGRAM')
      expect(s.sum('fnagent_queue_max_jobs')).toBe(10_000)
      expect(delta(n, s, 'fnagent_trigger_fires_total', { outcome: 'fired' }), at).toBe(
        fires.push[n]! + fires.lost[n]!,
      )
      expect(delta(n, s, 'fnagent_trigger_fires_total', { outcome: 'no_active_rule' }), at).toBe(
        fires.idle[n],
      )
      expect(delta(n, s, 'fnagent_rule_activations_total', { outcome: 'started' }), at).toBe(fires.push[n])
      expect(delta(n, s, 'fnagent_rule_activations_total', { outcome: 'failed' }), at).toBe(fires.lost[n])
    }
    expect(taken).toBe(sent.delivered.reduce((x, y) => x + y))
  }, 240_000)

  it('fnagent top renders the cluster live in an 80x24 terminal', async () => {
    const [a] = cluster.agents as [AgentHandle]
    const term = pty.spawn(NODE, [BIN, '--socket', a.socket, 'top'], { name: 'xterm', cols: 80, rows: 24 })
    let out = ''
    term.onData((d) => {
      out += d
    })
    const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)))
    cleanup.add(() => term.kill())
    // Frames start with cursor-home + clear; the second one has rates (it needs two samples).
    const frames = () => out.split('\x1b[H\x1b[2J').slice(1, -1)
    await waitFor(() => frames().length >= 2, { what: 'two frames of fnagent top', timeoutMs: 30_000 })
    const frame = frames().at(-1)!.split('\r\n')
    expect(frame.length).toBeLessThanOrEqual(24)
    for (const line of frame) expect(line.length, line).toBeLessThanOrEqual(80)
    expect(frame[0]).toContain('3/3 nodes alive')
    for (const id of ids) expect(frame.some((l) => l.startsWith(id.slice(-8)))).toBe(true)
    // The workload of the first test: 30 runs of f over the cluster, 5 of e, every one an error.
    expect(frame.find((l) => l.startsWith('guest/f '))).toMatch(/ 30 calls +0 err/)
    expect(frame.find((l) => l.startsWith('guest/e '))).toMatch(/ 5 calls +5 err/)
    term.write('q')
    expect(await exited).toBe(0)
  }, 60_000)

  it('the dashboard, in headless Chromium behind an API key, shows the three nodes and the invocation just made', async () => {
    const made = await owFetch(hosts[1]!, keys[1]!, 'POST', '/api/v1/namespaces/_/actions/f?blocking=true', {
      v: 'now',
    })
    expect(made.status).toBe(200)
    const { activationId } = made.body as ActivationRecord
    // Without a key: nothing.
    expect((await fetch(`${hosts[0]}/dashboard`)).status).toBe(401)
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
    cleanup.add(() => browser.close())
    const [username, password] = keys[0]!.split(':') as [string, string]
    const page = await (await browser.newContext({ httpCredentials: { username, password } })).newPage()
    const problems: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text())
    })
    page.on('pageerror', (err) => problems.push(err.message))
    page.on('requestfailed', (r) => problems.push(`${r.url()}: ${r.failure()?.errorText}`))
    await page.goto(`${hosts[0]}/dashboard`)
    await page.locator(`#recent [data-activation="${activationId}"]`).waitFor({ timeout: 30_000 })
    expect(await page.locator('#cluster [data-node]').count()).toBe(3)
    for (const id of ids) await expect(page.locator(`#cluster [data-node="${id}"]`).count()).resolves.toBe(1)
    expect(await page.locator('#summary').textContent()).toContain('3 of 3 nodes alive')
    const row = page.locator(`#recent [data-activation="${activationId}"]`)
    expect(await row.textContent()).toContain('guest/f')
    expect(await page.locator('#functions [data-fn="guest/f"]').count()).toBe(1)
    // The queue of every node, the dead letters node A holds, every node's trigger fires.
    for (const id of ids) expect(await page.locator(`#queue [data-queue-node="${id}"]`).count()).toBe(1)
    const deadCell = page.locator(`#queue [data-queue-node="${ids[0]}"] td`).last()
    expect(await deadCell.textContent()).toBe(String(deadOn[0]!.length))
    for (const id of deadOn[0]!) expect(await page.locator(`#dead [data-dead="${id}"]`).count()).toBe(1)
    for (const [trigger, n] of Object.entries(firesSeen))
      expect(await page.locator(`#fires [data-trigger="${trigger}"]`).count(), trigger).toBe(n)
    const dir = join(ROOT, '.ci/artifacts')
    mkdirSync(dir, { recursive: true })
    await page.screenshot({ path: join(dir, 'dashboard.png'), fullPage: true })
    expect(problems).toEqual([])
  }, 120_000)

  it('keeps the traceparent of a REST invocation in its record, through forwarding to the node that ran it; of a web action and of the CLI', async () => {
    // Received by a node where f is not warm: placement forwards it to one where it is.
    const view = await peersOf(cluster.agents[0]!)
    const via = ids.findIndex(
      (id) =>
        !Object.keys(view.find((m) => m.peerId === id)?.warm ?? {}).some((k) => k.startsWith('guest/f@')),
    )
    expect(via).toBeGreaterThanOrEqual(0)
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    const res = await fetch(`${hosts[via]}/api/v1/namespaces/_/actions/f?blocking=true`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(keys[via]!).toString('base64')}`,
        'content-type': 'application/json',
        traceparent,
      },
      body: '{}',
    })
    expect(res.status).toBe(200)
    const record = (await res.json()) as ActivationRecord
    expect(record.node).not.toBe(ids[via])
    const ann = (r: ActivationRecord, key: string) => r.annotations.find((a) => a.key === key)?.value
    expect((ann(record, 'placement') as { receivedBy: string }).receivedBy).toBe(ids[via])
    expect(ann(record, 'traceparent')).toBe(traceparent)
    // The node that ran it stored it so too.
    const ran = ids.indexOf(record.node)
    const stored = await owFetch(
      hosts[ran]!,
      keys[ran]!,
      'GET',
      `/api/v1/namespaces/_/activations/${record.activationId}`,
    )
    expect(ann(stored.body as ActivationRecord, 'traceparent')).toBe(traceparent)
    // A malformed one is ignored, as the spec asks.
    const bad = await fetch(`${hosts[via]}/api/v1/namespaces/_/actions/f?blocking=true`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(keys[via]!).toString('base64')}`,
        'content-type': 'application/json',
        traceparent: 'not-a-trace',
      },
      body: '{}',
    })
    expect(bad.status).toBe(200)
    expect(ann((await bad.json()) as ActivationRecord, 'traceparent')).toBeUndefined()
    // A web action keeps the header it was called with; the CLI sends $TRACEPARENT (or --traceparent).
    const a = cluster.agents[0]!
    const made = await a.cli(['fn', 'create', 'w', join(cluster.root, 'echo.js'), '-a', 'web-export', 'true'])
    expect(made.code, made.stderr).toBe(0)
    const webTrace = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    const web = await waitFor(
      async () => {
        const r = await fetch(`${hosts[via]}/api/v1/web/guest/default/w.json?v=1`, {
          headers: { traceparent: webTrace },
        })
        return r.status === 200 ? r : null
      },
      { what: 'the web action on the receiving node', timeoutMs: 30_000 },
    )
    const webId = web.headers.get('x-openwhisk-activation-id')!
    const webRecord = await owFetch(
      hosts[via]!,
      keys[via]!,
      'GET',
      `/api/v1/namespaces/_/activations/${webId}`,
    )
    expect(ann(webRecord.body as ActivationRecord, 'traceparent')).toBe(webTrace)
    const cliTrace = '00-11112222333344445555666677778888-1234567890abcdef-00'
    const byEnv = await cli(['--socket', a.socket, '--json', 'invoke', 'f'], {
      env: { TRACEPARENT: cliTrace },
    })
    expect(byEnv.code, byEnv.stderr).toBe(0)
    expect(ann(JSON.parse(byEnv.stdout) as ActivationRecord, 'traceparent')).toBe(cliTrace)
    const byFlag = await a.cli(['--json', 'invoke', 'f', '--traceparent', traceparent])
    expect(ann(JSON.parse(byFlag.stdout) as ActivationRecord, 'traceparent')).toBe(traceparent)
    const badFlag = await a.cli(['invoke', 'f', '--traceparent', 'nope'])
    expect(badFlag.code).not.toBe(0)
    expect(badFlag.stderr).toContain('not a W3C traceparent')
  }, 60_000)
})
