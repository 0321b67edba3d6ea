import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import Dockerode from 'dockerode'
import { waitFor } from './wait-for.ts'

export const ROOT = resolve(import.meta.dirname, '../..')
/** Node 24 from the project's devDependencies (libp2p v3 needs >= 22). */
export const NODE = join(ROOT, 'node_modules/.bin/node')
export const BIN = join(ROOT, 'cli/bin.js')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs the real `fnagent` CLI. */
export function cli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolveRun) => {
    execFile(
      NODE,
      [BIN, ...args],
      {
        env: { ...process.env, ...opts.env },
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
        resolveRun({ code, stdout, stderr })
      },
    )
  })
}

function socketAnswers(socket: string): Promise<boolean> {
  return new Promise((r) => {
    const req = request({ socketPath: socket, path: '/v1/status', timeout: 2000 }, (res) => {
      res.resume()
      r(res.statusCode === 200)
    })
    req.on('error', () => r(false))
    req.on('timeout', () => req.destroy())
    req.end()
  })
}

export interface AgentHandle {
  dataDir: string
  socket: string
  proc: ChildProcess
  output: () => string
  /** Runs the CLI against this agent. */
  cli: (args: string[], opts?: { timeoutMs?: number }) => Promise<CliResult>
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
  kill9: () => Promise<void>
}

export interface StartAgentOptions {
  dataDir?: string
  args?: string[]
  env?: NodeJS.ProcessEnv
  /** Wait for the socket to answer (default true). */
  wait?: boolean
}

/** Starts a real agent process on its own data dir; `cleanup` stops it and removes the dir. */
export async function startAgent(opts: StartAgentOptions = {}): Promise<AgentHandle> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'fnagent-test-'))
  const socket = join(dataDir, 'fnagent.sock')
  let out = ''
  const proc = spawn(NODE, [BIN, 'start', '--data-dir', dataDir, ...(opts.args ?? [])], {
    env: { ...process.env, FNAGENT_LOG_LEVEL: 'debug', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  proc.stderr?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
  const handle: AgentHandle = {
    dataDir,
    socket,
    proc,
    output: () => out,
    cli: (args, o) => cli(['--socket', socket, ...args], o),
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode
      proc.kill(signal)
      // The agent bounds its own stop (drain, engine calls, lingering handles); one that outlives
      // this is a bug: kill it so the run goes on, and fail with what it was doing.
      let timer: NodeJS.Timeout | undefined
      const overdue = new Promise<'overdue'>((r) => {
        timer = setTimeout(() => r('overdue'), STOP_DEADLINE_MS)
      })
      const outcome = await Promise.race([exited, overdue])
      clearTimeout(timer)
      if (outcome !== 'overdue') return outcome
      proc.kill('SIGKILL')
      await exited
      throw new StopOverdue(`agent on ${socket} did not exit within ${STOP_DEADLINE_MS} ms of ${signal}`, out)
    },
    kill9: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGKILL')
      await exited
    },
  }
  if (opts.wait !== false) {
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`agent exited with ${proc.exitCode}:\n${out}`)
        return socketAnswers(socket)
      },
      { what: `agent on ${socket}`, timeoutMs: 60_000 },
    )
  }
  return handle
}

const STOP_DEADLINE_MS = 90_000

/** An agent that did not exit after a stop signal; carries the end of its log. */
export class StopOverdue extends Error {
  constructor(message: string, output: string) {
    super(`${message}; the end of its log:\n${output.slice(-6000)}`)
    this.name = 'StopOverdue'
  }
}

/**
 * A stack of cleanups run in reverse (afterAll / afterEach). Every cleanup runs even if one
 * fails; an agent that would not stop fails the run afterwards (other failures are ignored).
 */
export class Cleanup {
  #fns: Array<() => Promise<unknown> | unknown> = []
  add(fn: () => Promise<unknown> | unknown): void {
    this.#fns.push(fn)
  }
  async run(): Promise<void> {
    const overdue: StopOverdue[] = []
    for (const fn of this.#fns.reverse()) {
      try {
        await fn()
      } catch (err) {
        if (err instanceof StopOverdue) overdue.push(err)
      }
    }
    this.#fns = []
    if (overdue.length > 0) throw overdue[0]
  }
}

export function tempDir(prefix = 'fnagent-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

/** Removes the function containers an agent killed with -9 left behind (its next start would). */
export async function removeContainersOf(nodeId: string): Promise<void> {
  const docker = new Dockerode()
  const list = await docker.listContainers({ all: true, filters: { label: [`fnagent.node=${nodeId}`] } })
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  )
}
