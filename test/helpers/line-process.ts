import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { NODE } from './agent-process.ts'

/** A fixture process driven by a line protocol: one JSON answer line per command line. */
export interface LineProcess<Info> {
  info: Info
  proc: ChildProcess
  /** Sends one command line; resolves with its `value`, rejects with its error. */
  send<T = unknown>(line: string): Promise<T>
  kill9(): Promise<void>
  /** Asks it to quit; kills it after 5 s. */
  quit(): Promise<void>
}

/**
 * Starts `script` (run with the project's Node 24, its one argument the JSON of `args`) and waits
 * for its `{"ready": true, …}` line, whose other fields become `info`.
 */
export async function spawnLineProcess<Info>(
  script: string,
  args: object,
  what: string,
): Promise<LineProcess<Info>> {
  const proc = spawn(NODE, [script, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  const pending: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = []
  const info = await new Promise<Info>((resolve, reject) => {
    proc.once('exit', (code) => {
      reject(new Error(`${what} exited (${code}) before it was ready`))
      for (const p of pending.splice(0)) p.reject(new Error(`${what} exited`))
    })
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let msg: { ready?: boolean; ok?: boolean; value?: unknown; error?: string }
      try {
        msg = JSON.parse(line)
      } catch {
        return
      }
      if (msg.ready) return resolve(msg as Info)
      const p = pending.shift()
      if (msg.ok) p?.resolve(msg.value)
      else p?.reject(new Error(msg.error))
    })
  })
  const gone = () => proc.exitCode !== null || proc.signalCode !== null
  const send = <T>(line: string) =>
    new Promise<T>((resolve, reject) => {
      if (gone()) return reject(new Error(`${what} exited`))
      pending.push({ resolve: resolve as (v: unknown) => void, reject })
      proc.stdin!.write(`${line}\n`)
    })
  return {
    info,
    proc,
    send,
    kill9: async () => {
      if (!gone()) proc.kill('SIGKILL')
      await exited
    },
    quit: async () => {
      if (gone()) return
      send('quit').catch(() => {})
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
}
