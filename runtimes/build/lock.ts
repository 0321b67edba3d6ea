import { open, readFile, rm } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Holds `path` as an exclusive lock between processes (two `runtime build`s, two test files) while
 * `fn` runs. A lock whose process is gone is taken over; waiting is bounded by `timeoutMs`.
 */
export async function withLock<T>(
  path: string,
  fn: () => Promise<T>,
  opts: { signal?: AbortSignal; timeoutMs?: number; onWait?: (pid: number) => void } = {},
): Promise<T> {
  const end = Date.now() + (opts.timeoutMs ?? 30 * 60_000)
  let told = false
  for (;;) {
    try {
      const handle = await open(path, 'wx')
      await handle.writeFile(String(process.pid))
      await handle.close()
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim())
    if (pid > 0 && !alive(pid)) {
      await rm(path, { force: true })
      continue
    }
    if (!told && pid > 0) opts.onWait?.(pid)
    told = true
    if (Date.now() > end) throw new Error(`timed out waiting for ${path} (held by process ${pid})`)
    await sleep(250, undefined, { signal: opts.signal })
  }
  try {
    return await fn()
  } finally {
    await rm(path, { force: true })
  }
}
