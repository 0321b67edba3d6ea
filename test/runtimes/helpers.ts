import { request } from 'node:http'
import type Dockerode from 'dockerode'
import yazl from 'yazl'
import { waitFor } from '../helpers/wait-for.ts'

export const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX'
const DOCKER_TIMEOUT_MS = 30_000
const signal = () => AbortSignal.timeout(DOCKER_TIMEOUT_MS)

export interface Reply {
  status: number
  body: unknown
}

/** POSTs JSON to the action server; no keep-alive, so nothing is left open. */
export function post(ip: string, path: string, body: unknown, timeoutMs = 30_000): Promise<Reply> {
  const data = Buffer.from(JSON.stringify(body))
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: ip,
        port: 8080,
        path,
        method: 'POST',
        agent: false,
        signal: AbortSignal.timeout(timeoutMs),
        headers: { 'content-type': 'application/json', 'content-length': data.length },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let parsed: unknown = text
          try {
            parsed = JSON.parse(text)
          } catch {}
          resolve({ status: res.statusCode ?? 0, body: parsed })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(data)
  })
}

/** Splits `docker logs` of a container without a TTY into its stdout and stderr text. */
export function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' }
  let p = 0
  while (p + 8 <= buf.length) {
    const size = buf.readUInt32BE(p + 4)
    const text = buf.toString('utf8', p + 8, p + 8 + size)
    if (buf[p] === 2) out.stderr += text
    else out.stdout += text
    p += 8 + size
  }
  return out
}

export interface RuntimeContainer {
  id: string
  ip: string
  post: (path: string, body: unknown) => Promise<Reply>
  logs: () => Promise<{ stdout: string; stderr: string }>
  /** Resolves once both streams hold `n` sentinels; returns the logs. */
  logsAfter: (n: number) => Promise<{ stdout: string; stderr: string }>
  remove: () => Promise<void>
}

const count = (text: string) => text.split('\n').filter((l) => l === SENTINEL).length

/**
 * Starts `image` under the lock-down the invoker uses (no capabilities, no-new-privileges, read-only
 * root with a tmpfs /tmp, uid 1000, pids and memory limits) and waits for its server on port 8080.
 */
export async function startRuntime(docker: Dockerode, image: string): Promise<RuntimeContainer> {
  const container = await docker.createContainer({
    Image: image,
    User: '1000',
    Labels: { 'fnagent.test': 'runtimes' },
    HostConfig: {
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': 'rw,size=64m' },
      PidsLimit: 1024,
      Memory: 256 * 1024 * 1024,
      MemorySwap: 256 * 1024 * 1024,
    },
    abortSignal: signal(),
  })
  const remove = () => container.remove({ force: true, abortSignal: signal() }).catch(() => {})
  try {
    await container.start({ abortSignal: signal() })
    const info = await container.inspect({ abortSignal: signal() })
    const ip = Object.values(info.NetworkSettings.Networks)[0]?.IPAddress ?? ''
    // Any answer means the server listens; GET is not part of the protocol, so it initializes nothing.
    await waitFor(() => getStatus(ip), {
      what: `${image} to listen on ${ip}:8080`,
      timeoutMs: 20_000,
      everyMs: 25,
    })
    const logs = async () =>
      demux(
        (await container.logs({
          stdout: true,
          stderr: true,
          follow: false,
          abortSignal: signal(),
        })) as Buffer,
      )
    const logsAfter = (n: number) =>
      waitFor(
        async () => {
          const l = await logs()
          return count(l.stdout) >= n && count(l.stderr) >= n ? l : undefined
        },
        { what: `${n} log sentinels`, timeoutMs: 20_000, everyMs: 25 },
      )
    return { id: container.id, ip, post: (path, body) => post(ip, path, body), logs, logsAfter, remove }
  } catch (err) {
    await remove()
    throw err
  }
}

function getStatus(ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: ip, port: 8080, path: '/', agent: false, signal: AbortSignal.timeout(2000) },
      (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** A zip of `files` (name -> text), base64 as `/init` takes it. `stored` names are not compressed. */
export function zipBase64(files: Record<string, string>, stored: string[] = []): Promise<string> {
  const zip = new yazl.ZipFile()
  for (const [name, text] of Object.entries(files)) {
    zip.addBuffer(Buffer.from(text), name, { compress: !stored.includes(name) })
  }
  zip.end()
  const chunks: Buffer[] = []
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c))
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks).toString('base64')))
    zip.outputStream.on('error', reject)
  })
}
