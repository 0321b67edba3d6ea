import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, removeDir, startAgent, tempDir } from '../helpers/agent-process.ts'
import { type ApiAgent, basic, Cleanup, owFetch, startApiAgent } from './helpers.ts'

// The holes of issue 15 at the OpenWhisk API and web actions, each shown against a real agent.

const cleanup = new Cleanup()
let api: ApiAgent
let key: string
const MiB = 1024 * 1024

// Sets the headers it is given (framing ones included) and echoes the caller's headers.
const HEADERS = `function main(p) {
  return {
    headers: Object.assign({ 'content-type': 'text/plain' }, p.set || {}),
    body: p.text || JSON.stringify(p.__ow_headers)
  }
}`

async function put(name: string, code: string, annotations: Array<{ key: string; value: unknown }>) {
  const r = await owFetch(api.apihost, key, 'PUT', `/api/v1/namespaces/_/actions/${name}?overwrite=true`, {
    exec: { kind: 'nodejs:default', code },
    annotations,
  })
  expect(r.status, JSON.stringify(r.body)).toBe(200)
}

beforeAll(async () => {
  api = await startApiAgent(cleanup)
  key = await api.newKey()
  await put('headers', HEADERS, [{ key: 'web-export', value: true }])
  await put('guarded', HEADERS, [
    { key: 'web-export', value: true },
    { key: 'require-whisk-auth', value: 's3cret-value' },
  ])
})
afterAll(() => cleanup.run())

/**
 * A raw HTTP/1.1 exchange: writes `head` (and `body`), reads until the server closes or `ms` pass.
 * With `readAfterMs`, the client reads nothing for that long after writing (a busy client).
 */
function raw(
  head: string,
  body?: Buffer | ((write: (b: Buffer) => boolean) => void),
  ms = 15_000,
  readAfterMs = 0,
) {
  const { hostname, port } = new URL(api.apihost)
  return new Promise<{ status: number; headers: string; body: string; text: string; error?: string }>(
    (resolve) => {
      const s = connect(Number(port), hostname, () => {
        s.write(head)
        if (Buffer.isBuffer(body)) s.write(body)
        else body?.((b) => s.write(b))
        // Blocks this process (not just the stream), so nothing is read from the kernel meanwhile.
        const until = Date.now() + readAfterMs
        while (Date.now() < until);
      })
      let got = ''
      let error: string | undefined
      const done = () => {
        clearTimeout(timer)
        s.destroy()
        const [headers = '', rest = ''] = got.split('\r\n\r\n', 2)
        resolve({
          status: Number(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? 0),
          headers,
          body: rest,
          text: got,
          error,
        })
      }
      const timer = setTimeout(done, ms)
      s.on('data', (d) => {
        got += d.toString('latin1')
      })
      s.on('close', done)
      s.on('error', (err: NodeJS.ErrnoException) => {
        error = err.code ?? err.message
      })
    },
  )
}

describe('request bodies are refused past their limit before they are buffered', () => {
  it('refuses an invocation declaring more than the payload limit at once, without waiting for the body', async () => {
    const head =
      'POST /api/v1/namespaces/_/actions/headers?blocking=true HTTP/1.1\r\nHost: x\r\n' +
      `Authorization: ${basic(key)}\r\nContent-Type: application/json\r\nContent-Length: ${50 * MiB}\r\n\r\n`
    const r = await raw(head, Buffer.from('{"a":'))
    expect(r.status).toBe(413)
    expect(JSON.parse(r.body)).toMatchObject({
      error: `Request larger than allowed: ${50 * MiB} > 1048576 bytes.`,
    })
  })

  it('refuses a chunked web action body as it passes the payload limit', async () => {
    const head =
      'POST /api/v1/web/guest/default/headers.http HTTP/1.1\r\nHost: x\r\n' +
      'Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n'
    const piece = Buffer.alloc(64 * 1024, 'a')
    const r = await raw(head, (write) => {
      // 2 MiB in 64 KiB chunks; the server answers once it has seen 1 MiB + 1 chunk.
      for (let i = 0; i < 32; i++)
        write(Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]))
    })
    expect(r.status).toBe(413)
    expect(JSON.parse(r.body).error).toMatch(/^Request larger than allowed: \d+ > 1048576 bytes\.$/)
  })

  it('lets a client that is slow to read still get its 413 (no reset before the answer is read)', async () => {
    const head =
      'POST /api/v1/web/guest/default/headers.http HTTP/1.1\r\nHost: x\r\n' +
      'Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n'
    const piece = Buffer.alloc(64 * 1024, 'a')
    // The client goes on sending after the refusal and reads only a second later, as a busy one
    // does: closing the connection under it would reset it and throw the unread answer away.
    const r = await raw(
      head,
      (write) => {
        for (let i = 0; i < 24; i++)
          write(Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]))
      },
      15_000,
      1000,
    )
    expect(r.error).toBeUndefined()
    expect(r.status).toBe(413)
    expect(JSON.parse(r.body).error).toMatch(/^Request larger than allowed: \d+ > 1048576 bytes\.$/)
  })

  it('still takes an action PUT of a few MiB (the code limit applies there)', async () => {
    const code = `// ${'x'.repeat(3 * MiB)}\nfunction main() { return { ok: true } }`
    const r = await owFetch(api.apihost, key, 'PUT', '/api/v1/namespaces/_/actions/big?overwrite=true', {
      exec: { kind: 'nodejs:default', code },
    })
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200)
  })
})

describe('web action responses', () => {
  it('cannot set framing or hop-by-hop headers (no response splitting)', async () => {
    const set = {
      'Content-Length': '2',
      'transfer-encoding': 'chunked',
      connection: 'close',
      'x-openwhisk-activation-id': 'forged',
      'x-kept': 'yes',
    }
    const r = await fetch(`${api.apihost}/api/v1/web/guest/default/headers.http`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hello world', set }),
    })
    expect(r.status).toBe(200)
    expect(await r.text()).toBe('hello world')
    expect(r.headers.get('content-length')).toBe('11')
    expect(r.headers.get('x-kept')).toBe('yes')
    expect(r.headers.get('x-openwhisk-activation-id')).toMatch(/^[0-9a-f]{32}$/)
    // On one kept-alive connection, the next response is intact.
    const head =
      'POST /api/v1/web/guest/default/headers.http HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
    const body = JSON.stringify({ text: 'hello world', set })
    const two = await raw(
      `${head}Content-Length: ${body.length}\r\n\r\n${body}${head}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    )
    expect(two.text.match(/HTTP\/1\.1 200/g)).toHaveLength(2)
    expect(two.text.match(/\r\ncontent-length: 11\r\n/gi)).toHaveLength(2)
  })
})

describe('web action details', () => {
  it('do not pass the caller credentials to the action', async () => {
    const r = await fetch(`${api.apihost}/api/v1/web/guest/default/headers.http`, {
      headers: { authorization: basic(key), 'x-other': 'kept' },
    })
    const seen = JSON.parse(await r.text()) as Record<string, string>
    expect(seen['x-other']).toBe('kept')
    expect(seen.authorization).toBeUndefined()
  })

  it('check x-require-whisk-auth and keep it from the action', async () => {
    const url = `${api.apihost}/api/v1/web/guest/default/guarded.http`
    expect((await fetch(url)).status).toBe(401)
    expect((await fetch(url, { headers: { 'x-require-whisk-auth': 's3cret-valuf' } })).status).toBe(401)
    expect((await fetch(url, { headers: { 'x-require-whisk-auth': 's3cret' } })).status).toBe(401)
    const ok = await fetch(url, { headers: { 'x-require-whisk-auth': 's3cret-value' } })
    expect(ok.status).toBe(200)
    expect(JSON.parse(await ok.text())['x-require-whisk-auth']).toBeUndefined()
  })

  it('answer a malformed %-escape with 400, not a server error', async () => {
    const web = await raw(
      'GET /api/v1/web/guest/default/head%zzers.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    )
    expect(web.status).toBe(400)
    const rest = await raw(
      `GET /api/v1/namespaces/%E0%A4%A/actions HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(key)}\r\nConnection: close\r\n\r\n`,
    )
    expect(rest.status).toBe(400)
    expect(api.agent.output()).not.toMatch(/URIError/)
  })
})

describe('the OpenWhisk API listener', () => {
  it('refuses plain HTTP on a non-loopback address unless told it is insecure, and says why', async () => {
    const dir = tempDir()
    cleanup.add(() => removeDir(dir))
    const r = await cli(['start', '--no-cluster', '--data-dir', dir, '--api-listen', '0.0.0.0:0'], {
      timeoutMs: 60_000,
    })
    expect(r.code).not.toBe(0)
    expect(r.stderr + r.stdout).toMatch(/API keys would cross it in clear text/)
    expect(r.stderr + r.stdout).toMatch(/--api-insecure-plain-http/)

    const agent = await startAgent({
      dataDir: dir,
      args: ['--no-cluster', '--api-listen', '0.0.0.0:0', '--api-insecure-plain-http'],
    })
    cleanup.add(() => agent.stop())
    expect(agent.output()).toMatch(/OpenWhisk API listening/)
  })
})
