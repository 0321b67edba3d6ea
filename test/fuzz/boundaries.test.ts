import { request } from 'node:http'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chunkOf, decoder, FrameReader, FrameWriter } from '../../agent/cluster/frames.ts'
import { encodeMessage } from '../../agent/cluster/messages.ts'
import { FORWARD_PROTOCOL } from '../../agent/placement/messages.ts'
import { REPL_PROTOCOL } from '../../agent/replication/messages.ts'
import { formatHlc } from '../../agent/store/hlc.ts'
import { main as cliMain } from '../../cli/program.ts'
import { imageFor } from '../../runtimes/build/index.ts'
import { basic } from '../api/helpers.ts'
import { rawNode } from '../cluster/fixtures/raw-node.ts'
import { type AgentHandle, Cleanup, cli, removeDir, startAgent, tempDir } from '../helpers/agent-process.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { startRuntime } from '../runtimes/helpers.ts'

/**
 * Hostile inputs at every boundary of a real agent (with its cluster, OpenWhisk API and web
 * actions) and of the runtime proxies in real containers. Every input must get a clear answer or
 * be dropped and counted; the agent must keep answering, and what it stored before must not
 * change. FNAGENT_FUZZ_RUNS sets the inputs per boundary (default 1000); the seed is fixed.
 */
const RUNS = Number(process.env.FNAGENT_FUZZ_RUNS ?? 1000)
const SEED = 15
const sample = <T>(arb: fc.Arbitrary<T>, salt: number) => fc.sample(arb, { numRuns: RUNS, seed: SEED + salt })

const cleanup = new Cleanup()
let agent: AgentHandle
let apihost: string
let authKey: string
let clusterAddr: string
let keyFile: string
const docker = new Dockerode()
const report: Array<{ boundary: string; tried: number; outcomes: Record<string, number> }> = []

// ---------------------------------------------------------------- generators

const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    '..',
    '../..',
    '%',
    '%zz',
    '%E0%A4%A',
    '%00',
    '\u0000',
    '/',
    '//',
    'a'.repeat(300),
    '_',
    '😀',
  ),
)
/** A name that never names an existing function (they are all lower-case words without `fz`). */
const name = fc.oneof(
  hostileText.map((t) => `fz${t}`),
  fc.constantFrom('fz', 'fz/x', 'fz/../x'),
)
const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(
    fc.constantFrom('kind', 'code', 'exec', 'params', 'blocking', 'limits', 'mode', 'peer'),
    fc.jsonValue({ maxDepth: 2 }),
  ),
)
const body = fc.oneof(
  fc.constant(undefined),
  jsonish.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
  fc.constantFrom(Buffer.from('{'), Buffer.from('{"a":'), Buffer.from('\u0000'), Buffer.from('[]')),
)
const contentType = fc.constantFrom(
  undefined,
  'application/json',
  'application/x-www-form-urlencoded',
  'text/plain',
  'image/png',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  '\u00ff',
)
const method = fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'FUZZ')
const query = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        'limit',
        'skip',
        'count',
        'docs',
        'name',
        'since',
        'upto',
        'blocking',
        'result',
        'code',
        'overwrite',
        'cluster',
        'x',
      ),
      fc.oneof(hostileText, fc.constantFrom('-1', '1e309', 'NaN', 'true', '9007199254740993', '0x10', '201')),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&'))

/** A path segment as a client might send it: encoded, or raw (and then perhaps malformed). */
const segment = fc.oneof(
  name.map((n) => encodeURIComponent(n)),
  fc.constantFrom('%zz', '%', '..', '%2e%2e', 'fz%2Fx', '_', 'guest', 'echo'),
)

interface HttpInput {
  method: string
  path: string
  type: string | undefined
  body: Buffer | undefined
  headers?: Record<string, string>
}

function send(
  target: { socketPath: string } | { url: string },
  input: HttpInput,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { ...input.headers }
    if (input.type) headers['content-type'] = input.type
    if (input.body) headers['content-length'] = String(input.body.length)
    const opts =
      'socketPath' in target
        ? { socketPath: target.socketPath }
        : { host: new URL(target.url).hostname, port: Number(new URL(target.url).port) }
    let req: ReturnType<typeof request>
    try {
      req = request(
        { ...opts, path: input.path, method: input.method, headers, agent: false, timeout: 60_000 },
        (res) => {
          let text = ''
          res.on('data', (d) => {
            text += d
          })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
          res.on('error', () => resolve({ status: -1, text: '' }))
        },
      )
    } catch (err) {
      // Node refused to send it (an invalid path or header): nothing reached the agent.
      resolve({ status: -2, text: String(err) })
      return
    }
    req.on('error', () => resolve({ status: -1, text: '' }))
    req.end(input.body)
  })
}

function tally(outcomes: Record<string, number>, key: string | number): void {
  outcomes[key] = (outcomes[key] ?? 0) + 1
}

/** What the agent stored before the fuzzing: every function and activation record, as JSON. */
async function digest(ids: string[]): Promise<string> {
  const get = (path: string) =>
    send({ socketPath: agent.socket }, { method: 'GET', path, type: undefined, body: undefined })
  const fns = JSON.parse((await get('/v1/functions')).text) as Array<{ name: string }>
  const parts = [JSON.stringify(fns.filter((f) => !f.name.startsWith('fz')))]
  for (const id of ids) parts.push((await get(`/v1/activations/${id}`)).text)
  return parts.join('\n')
}

async function statusOk(): Promise<boolean> {
  const r = await send(
    { socketPath: agent.socket },
    { method: 'GET', path: '/v1/status', type: undefined, body: undefined },
  )
  return r.status === 200
}

// ---------------------------------------------------------------- the agent under fire

let before = ''
const storedIds: string[] = []

beforeAll(async () => {
  const dataDir = tempDir('fnagent-fuzz-')
  cleanup.add(() => removeDir(dataDir))
  keyFile = join(dataDir, 'cluster.key')
  expect((await cli(['cluster', 'init', '--data-dir', dataDir])).code).toBe(0)
  agent = await startAgent({
    dataDir,
    args: ['--listen', '/ip4/127.0.0.1/tcp/0', '--api-listen', '127.0.0.1:0'],
    env: {
      FNAGENT_LOG_LEVEL: 'warn',
      FNAGENT_OPENWHISK_API_RATE_LIMIT_PER_MINUTE: '1000000',
      FNAGENT_OPENWHISK_API_RATE_LIMIT_BURST: '1000000',
    },
  })
  cleanup.add(() => agent.stop())
  const status = await waitFor(
    async () => {
      const r = await send(
        { socketPath: agent.socket },
        { method: 'GET', path: '/v1/status', type: undefined, body: undefined },
      )
      const s = JSON.parse(r.text) as { cluster?: { addresses: string[] } }
      return s.cluster?.addresses.length ? s : null
    },
    { what: 'the agent cluster address', timeoutMs: 30_000 },
  )
  clusterAddr = status.cluster!.addresses.find((a) => a.includes('127.0.0.1'))!
  const key = JSON.parse((await agent.cli(['--json', 'auth', 'create'])).stdout) as {
    auth: string
    apihost: string
  }
  authKey = key.auth
  apihost = key.apihost
  const dir = tempDir('fnagent-fuzz-fn-')
  cleanup.add(() => removeDir(dir))
  const { writeFileSync } = await import('node:fs')
  writeFileSync(
    join(dir, 'echo.js'),
    'function main(p) { return { statusCode: 200, headers: { "content-type": "application/json" }, body: { got: Object.keys(p).length } } }',
  )
  expect(
    (await agent.cli(['fn', 'create', 'echo', join(dir, 'echo.js'), '-a', 'web-export', 'true'])).code,
  ).toBe(0)
  for (let i = 0; i < 3; i++) {
    const r = await agent.cli(['--json', 'invoke', 'echo'])
    storedIds.push((JSON.parse(r.stdout) as { activationId: string }).activationId)
  }
  before = await digest(storedIds)
}, 180_000)

afterAll(async () => {
  console.log(`\nfuzz (seed ${SEED}, ${RUNS} inputs per boundary):`)
  for (const r of report)
    console.log(
      `  ${r.boundary.padEnd(22)} ${String(r.tried).padStart(5)} tried  ${JSON.stringify(r.outcomes)}`,
    )
  await cleanup.run()
})

/** After each boundary: the agent answers, and nothing stored before has changed. */
async function unharmed(): Promise<void> {
  expect(await statusOk()).toBe(true)
  expect(agent.proc.exitCode).toBeNull()
  expect(await digest(storedIds)).toBe(before)
}

describe('fuzzing every boundary', { timeout: 240_000 }, () => {
  it('the local API answers every request with a status and a catalogued error code', async () => {
    const inputs = sample(
      fc.record({
        method,
        path: fc.oneof(
          fc
            .tuple(
              fc.constantFrom('/v1/functions/', '/v1/activations/', '/v1/auth/keys/', '/v1/', '/'),
              segment,
              fc.constantFrom('', '/invoke', '/logs', '/result', '/x'),
            )
            .map(([a, b, c]) => a + b + c),
          fc.constantFrom(
            '/v1/status',
            '/v1/activations',
            '/v1/functions',
            '/v1/cluster/join',
            '/v1/auth/keys',
            '/v1/peers',
          ),
        ),
        query,
        type: contentType,
        body,
      }),
      1,
    )
    const outcomes: Record<string, number> = {}
    for (const i of inputs) {
      // Verbs that change what already exists (leave, join) are not hostile input; they are tested elsewhere.
      if (i.path.startsWith('/v1/cluster/')) i.path = '/v1/cluster/fuzz'
      const r = await send(
        { socketPath: agent.socket },
        { ...i, path: `${i.path}${i.query ? `?${i.query}` : ''}` },
      )
      if (r.status < 0) {
        expect(r.status, `${i.method} ${i.path}: ${r.text}`).toBe(-2) // refused by the client, never sent
        tally(outcomes, 'not sendable')
      } else if (r.status === 400 && r.text === '') {
        tally(outcomes, '400 (Node HTTP parser)') // an unknown method: refused before any handler
      } else if (r.status >= 400 && i.method !== 'HEAD') {
        const code = (JSON.parse(r.text) as { error: { code: string } }).error.code
        expect(code, `${i.method} ${i.path}`).not.toBe('INTERNAL')
        tally(outcomes, `${r.status} ${code}`)
      } else tally(outcomes, r.status)
    }
    report.push({ boundary: 'local API', tried: inputs.length, outcomes })
    await unharmed()
  })

  it('the OpenWhisk REST API answers every request in its error shape, never a 500', async () => {
    const inputs = sample(
      fc.record({
        method,
        path: fc
          .tuple(
            fc.constantFrom('_', 'guest', 'other', '%zz', ''),
            fc.constantFrom('actions', 'activations', 'packages', 'rules', 'triggers', 'x', ''),
            fc.option(segment, { nil: undefined }),
          )
          .map(
            ([ns, col, rest]) =>
              `/api/v1/namespaces/${ns}${col ? `/${col}` : ''}${rest !== undefined ? `/${rest}` : ''}`,
          ),
        query,
        type: contentType,
        body,
        auth: fc.constantFrom('key', 'key', 'key', 'none', 'bad'),
      }),
      2,
    )
    const outcomes: Record<string, number> = {}
    for (const i of inputs) {
      const headers: Record<string, string> = {}
      if (i.auth === 'key') headers.authorization = basic(authKey)
      if (i.auth === 'bad') headers.authorization = basic(`${authKey.split(':')[0]}:wrong`)
      const r = await send(
        { url: apihost },
        { ...i, path: `${i.path}${i.query ? `?${i.query}` : ''}`, headers },
      )
      expect(r.status, `${i.method} ${i.path} ${r.text.slice(0, 200)}`).not.toBe(500)
      expect(r.status, `${i.method} ${i.path}: ${r.text}`).not.toBe(-1)
      if (r.status === 400 && r.text === '') {
        tally(outcomes, '400 (Node HTTP parser)') // an unknown method: refused before any handler
        continue
      }
      if (r.status >= 400 && i.method !== 'HEAD')
        expect(JSON.parse(r.text), `${i.method} ${i.path}`).toHaveProperty('error')
      tally(outcomes, r.status)
    }
    report.push({ boundary: 'OpenWhisk REST API', tried: inputs.length, outcomes })
    await unharmed()
  })

  it('web actions answer every request, never a 500', async () => {
    const inputs = sample(
      fc.record({
        method,
        path: fc
          .tuple(
            fc.constantFrom('guest', '_', 'x', '%zz'),
            fc.constantFrom('default', 'pkg', '%zz'),
            fc.constantFrom(
              'echo',
              'echo.json',
              'echo.http',
              'echo.text',
              'echo.html',
              'echo.svg',
              'echo.xyz',
              'missing.json',
              'ech%zz',
            ),
            fc.option(segment, { nil: undefined }),
          )
          .map(
            ([ns, pkg, action, rest]) =>
              `/api/v1/web/${ns}/${pkg}/${action}${rest !== undefined ? `/${rest}` : ''}`,
          ),
        query,
        type: contentType,
        body,
        headers: fc.dictionary(
          fc.constantFrom('x-require-whisk-auth', 'authorization', 'x-forwarded-for', 'accept', 'x-fz'),
          fc.string({ maxLength: 30 }).filter((s) => /^[\t\x20-\x7e]*$/.test(s)),
          { maxKeys: 3 },
        ),
      }),
      3,
    )
    const outcomes: Record<string, number> = {}
    for (const i of inputs) {
      const r = await send({ url: apihost }, { ...i, path: `${i.path}${i.query ? `?${i.query}` : ''}` })
      expect(r.status, `${i.method} ${i.path} ${r.text.slice(0, 200)}`).not.toBe(500)
      tally(outcomes, r.status)
    }
    report.push({ boundary: 'web actions', tried: inputs.length, outcomes })
    await unharmed()
  })

  it('the CLI turns every argument list into an exit code and a message, never a crash', async () => {
    const verbs = [
      ['fn', 'get'],
      ['fn', 'create'],
      ['fn', 'update'],
      ['fn', 'delete'],
      ['fn', 'list'],
      ['invoke'],
      ['activation', 'list'],
      ['activation', 'get'],
      ['activation', 'logs'],
      ['activation', 'result'],
      ['auth', 'revoke'],
      ['auth', 'list'],
      ['status'],
      ['config'],
      ['peers'],
      ['nope'],
      [],
    ]
    const flag = fc.constantFrom(
      '-p',
      '-P',
      '-m',
      '-t',
      '-l',
      '-c',
      '--kind',
      '--main',
      '--json',
      '--limit',
      '--skip',
      '--since',
      '-r',
      '--image',
      '--env',
      '--help',
      '--version',
      '-',
    )
    const inputs = sample(
      fc.tuple(fc.constantFrom(...verbs), fc.array(fc.oneof(name, flag, hostileText), { maxLength: 5 })),
      4,
    )
    const outcomes: Record<string, number> = {}
    const write = { out: process.stdout.write, err: process.stderr.write }
    let crashed: unknown = null
    for (const [verb, args] of inputs) {
      const saved = process.exitCode
      process.stdout.write = (() => true) as typeof process.stdout.write
      process.stderr.write = (() => true) as typeof process.stderr.write
      try {
        tally(outcomes, await cliMain(['node', 'fnagent', '--socket', agent.socket, ...verb, ...args]))
      } catch (err) {
        crashed = err
      } finally {
        process.stdout.write = write.out
        process.stderr.write = write.err
        process.exitCode = saved
      }
      expect(crashed, `${[...verb, ...args].join(' ')}`).toBeNull()
    }
    expect(outcomes[70] ?? 0).toBe(0) // 70: a bug (a stack trace)
    report.push({ boundary: 'CLI arguments', tried: inputs.length, outcomes })
    await unharmed()
  })

  it('gossip: every hostile heartbeat is dropped and counted, valid ones change nothing stored', async () => {
    const raw = await rawNode({ keyFile, dial: clusterAddr })
    cleanup.add(() => raw.stop())
    const dropped = async () =>
      JSON.parse(
        (
          await send(
            { socketPath: agent.socket },
            { method: 'GET', path: '/v1/status', type: undefined, body: undefined },
          )
        ).text,
      ).cluster.gossip.dropped as Record<string, number>
    const d0 = await dropped()
    const valid = JSON.parse(new TextDecoder().decode(raw.heartbeat(1))) as Record<string, unknown>
    const inputs = sample(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        jsonish.map((v) => new TextEncoder().encode(JSON.stringify(v) ?? '')),
        fc
          .tuple(fc.constantFrom(...Object.keys(valid)), fc.jsonValue({ maxDepth: 2 }))
          .map(([k, v]) => encodeMessage({ ...valid, [k]: v, seq: 2 } as never)),
        fc.nat().map((n) => new Uint8Array(70_000 + (n % 1000)).fill(0x7b)),
      ),
      5,
    )
    const total = (d: Record<string, number>) => Object.values(d).reduce((a, b) => a + b, 0)
    // Gossip is asynchronous: wait until the drop counters stop growing.
    const settled = async () => {
      let last = -1
      return waitFor(
        async () => {
          const d = await dropped()
          const t = total(d)
          const same = t === last
          last = t
          return same ? d : null
        },
        { what: 'the gossip drop counters to settle', timeoutMs: 30_000, everyMs: 500 },
      )
    }
    // About 1 MiB at a time, then until the agent has dealt with it: libp2p resets a stream whose
    // reader falls 4 MiB behind, so one burst of all of them (about 19 MiB) from a peer that a busy
    // agent reads slowly would lose the rest unseen (safe, but nothing would be counted).
    let burst = 0
    for (const bytes of inputs) {
      await raw.publish(bytes)
      burst += bytes.length
      if (burst > 1024 * 1024) {
        await settled()
        burst = 0
      }
    }
    const d1 = await settled()
    const outcomes: Record<string, number> = {}
    for (const [k, v] of Object.entries(d1))
      if (v - (d0[k] ?? 0) > 0) outcomes[`dropped ${k}`] = v - (d0[k] ?? 0)
    outcomes['not dropped (valid, deduplicated or replays)'] = inputs.length - (total(d1) - total(d0))
    await raw.stop()
    expect(total(d1) - total(d0)).toBeGreaterThan(inputs.length * 0.9)
    report.push({ boundary: 'gossip messages', tried: inputs.length, outcomes })
    await unharmed()
  })

  it('channel frames: malformed framing ends only that channel', async () => {
    const raw = await rawNode({ keyFile, dial: clusterAddr })
    cleanup.add(() => raw.stop())
    const inputs = sample(
      fc.tuple(
        fc.constantFrom(REPL_PROTOCOL, FORWARD_PROTOCOL),
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 64 })).map(([len, rest]) => {
            const h = new Uint8Array(4)
            new DataView(h.buffer).setUint32(0, len)
            return new Uint8Array([...h, ...rest])
          }),
          jsonish.map((v) => {
            const json = new TextEncoder().encode(JSON.stringify(v) ?? '')
            const h = new Uint8Array(4)
            new DataView(h.buffer).setUint32(0, json.byteLength)
            return new Uint8Array([...h, ...json])
          }),
        ),
      ),
      6,
    )
    const outcomes: Record<string, number> = {}
    for (const [protocol, bytes] of inputs) {
      const stream = await raw.dialProtocol(protocol)
      const reader = new FrameReader(1024 * 1024)
      const outcome = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('no answer (incomplete frame)'), 50)
        stream.addEventListener('message', (evt) => {
          try {
            if (reader.push(chunkOf(evt.data)).length) {
              clearTimeout(timer)
              resolve('answered')
            }
          } catch {
            resolve('bad answer')
          }
        })
        stream.addEventListener('close', () => {
          clearTimeout(timer)
          resolve('channel ended')
        })
        stream.send(bytes)
      })
      stream.abort(new Error('done'))
      tally(outcomes, outcome)
    }
    await raw.stop()
    expect(outcomes['bad answer'] ?? 0).toBe(0)
    report.push({ boundary: 'channel frames', tried: inputs.length, outcomes })
    await unharmed()
  })

  it('replication messages: every hostile request is refused with a reason or answered', async () => {
    const raw = await rawNode({ keyFile, dial: clusterAddr })
    cleanup.add(() => raw.stop())
    const hlc = formatHlc(Date.now(), 0)
    const record = fc.record({
      namespace: fc.oneof(fc.constant('guest'), hostileText),
      name: name,
      activationId: fc.oneof(
        fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }),
        hostileText,
      ),
      start: fc.oneof(fc.integer(), fc.double()),
      logs: fc.array(hostileText, { maxLength: 3 }),
      version: fc.oneof(fc.integer(), hostileText),
    })
    const inputs = sample(
      fc.oneof(
        jsonish,
        fc.record({
          type: fc.constantFrom('push', 'tree', 'entries', 'get', 'blob', 'activation', 'list', 'x'),
          hlc: fc.oneof(fc.constant(hlc), hostileText),
        }),
        fc.record({
          type: fc.constant('push'),
          hlc: fc.constant(hlc),
          functions: fc.array(fc.record({ record: record }), { maxLength: 2 }),
          activations: fc.array(record, { maxLength: 2 }),
        }),
        fc.record({
          type: fc.constant('get'),
          hlc: fc.constant(hlc),
          kind: fc.constantFrom('fn', 'act', 'x'),
          keys: fc.array(hostileText, { maxLength: 5 }),
          maxBytes: fc.oneof(fc.integer(), fc.double()),
        }),
        fc.record({
          type: fc.constant('list'),
          hlc: fc.constant(hlc),
          query: fc.dictionary(
            fc.constantFrom('name', 'limit', 'since', 'upto', 'skip'),
            fc.jsonValue({ maxDepth: 1 }),
          ),
        }),
        fc.record({
          type: fc.constant('tree'),
          hlc: fc.constant(hlc),
          kind: fc.constantFrom('fn', 'act'),
          prefixes: fc.array(hostileText, { maxLength: 4 }),
        }),
      ),
      7,
    )
    const stream = await raw.dialProtocol(REPL_PROTOCOL)
    const writer = new FrameWriter(stream, 64 * 1024 * 1024)
    const reader = new FrameReader(64 * 1024 * 1024)
    const waiting = new Map<
      number,
      (body: { type?: string; reason?: string } | undefined, error?: string) => void
    >()
    stream.addEventListener('message', (evt) => {
      for (const frame of reader.push(chunkOf(evt.data))) {
        const f = JSON.parse(decoder.decode(frame)) as {
          id: number
          body?: { type?: string }
          error?: string
        }
        waiting.get(f.id)?.(f.body, f.error)
      }
    })
    const outcomes: Record<string, number> = {}
    let id = 0
    for (const body of inputs) {
      const mine = ++id
      const answer = new Promise<string>((resolve) => {
        waiting.set(mine, (b, error) =>
          resolve(
            error ? 'handler error' : b?.type === 'error' ? `refused ${b.reason}` : `answered ${b?.type}`,
          ),
        )
      })
      await writer.write({ id: mine, body })
      tally(outcomes, await answer)
    }
    stream.abort(new Error('done'))
    await raw.stop()
    expect(outcomes['handler error'] ?? 0).toBe(0)
    report.push({ boundary: 'replication messages', tried: inputs.length, outcomes })
    await unharmed()
  })

  it('the runtime proxies answer every /init and /run, and keep answering', async () => {
    const inputs = sample(
      fc.tuple(
        fc.constantFrom('/init', '/run', '/x'),
        fc.oneof(
          fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
          jsonish.map((v) => Buffer.from(JSON.stringify(v) ?? '')),
          fc
            .record({
              value: fc.record({
                main: fc.oneof(fc.constant('main'), hostileText),
                code: hostileText,
                binary: fc.boolean(),
                env: fc.jsonValue({ maxDepth: 1 }),
              }),
            })
            .map((v) => Buffer.from(JSON.stringify(v))),
          fc
            .record({
              value: fc.jsonValue({ maxDepth: 2 }),
              activation_id: hostileText,
              deadline: fc.jsonValue({ maxDepth: 0 }),
            })
            .map((v) => Buffer.from(JSON.stringify(v))),
        ),
      ),
      8,
    )
    let tried = 0
    const outcomes: Record<string, number> = {}
    for (const kind of ['nodejs:24', 'python:3'] as const) {
      const c = await startRuntime(docker, imageFor(kind))
      cleanup.add(() => c.remove())
      for (const [path, bytes] of inputs) {
        const r = await send(
          { url: `http://${c.ip}:8080` },
          { method: 'POST', path, type: 'application/json', body: bytes },
        )
        expect(r.status, `${kind} ${path} ${bytes.toString('utf8').slice(0, 100)}`).toBeGreaterThan(0)
        tally(outcomes, `${kind} ${r.status}`)
        tried++
      }
      const after = await send(
        { url: `http://${c.ip}:8080` },
        { method: 'POST', path: '/run', type: 'application/json', body: Buffer.from('{}') },
      )
      expect(after.status).toBeGreaterThan(0)
      await c.remove()
    }
    report.push({ boundary: 'runtime /init and /run', tried, outcomes })
    await unharmed()
  })
})
