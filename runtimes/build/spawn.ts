import { spawn } from 'node:child_process'

export interface RunOptions {
  signal?: AbortSignal
  /** Kills the command after this long (default 10 minutes). */
  timeoutMs?: number
  /** Called with each line the command prints (stdout and stderr). */
  onLine?: (line: string) => void
  cwd?: string
}

/** Runs a command to completion; rejects with its last output lines when it fails. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const signals = [AbortSignal.timeout(opts.timeoutMs ?? 600_000), ...(opts.signal ? [opts.signal] : [])]
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, signal: AbortSignal.any(signals), stdio: 'pipe' })
    let out = ''
    let tail: string[] = []
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8')
      out += text
      for (const line of text.split('\n')) {
        if (!line.trim()) continue
        tail = [...tail.slice(-19), line]
        opts.onLine?.(line)
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('error', (err) => reject(err))
    child.on('close', (code, sig) => {
      if (code === 0) resolve(out)
      else
        reject(new Error(`${cmd} ${args.join(' ')} failed (${sig ?? `exit ${code}`}):\n${tail.join('\n')}`))
    })
  })
}
