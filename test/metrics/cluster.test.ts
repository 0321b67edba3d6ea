import { mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationRecord } from '../../agent/store/types.ts'
import { apiOf, owFetch } from '../api/helpers.ts'
import { type AgentHandle, BIN, Cleanup, NODE, ROOT } from '../helpers/agent-process.ts'
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

beforeAll(async () => {
  cluster = await createCluster(3, cleanup, { args: ['--api-listen', '127.0.0.1:0'] })
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
    const dir = join(ROOT, '.ci/artifacts')
    mkdirSync(dir, { recursive: true })
    await page.screenshot({ path: join(dir, 'dashboard.png'), fullPage: true })
    expect(problems).toEqual([])
  }, 120_000)

  it('keeps the traceparent of a REST invocation in its record, through forwarding to the node that ran it', async () => {
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
  }, 60_000)
})
