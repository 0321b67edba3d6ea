import { LogCapture, SENTINEL } from '../agent/invoker/logs.ts'

/**
 * Log capture, in process: its cost per activation with typical output (two lines and the two
 * sentinels), and the time to take 64 MiB printed without a newline (linear and bounded since
 * issue 15; it was quadratic).
 */
export async function benchLogs(): Promise<Record<string, unknown>> {
  const out = Buffer.from(`hello from the action\nsecond line ${'y'.repeat(60)}\n${SENTINEL}\n`)
  const err = Buffer.from(`${SENTINEL}\n`)
  const cap = new LogCapture()
  const perActivation = async (n: number) => {
    const t0 = performance.now()
    for (let i = 0; i < n; i++) {
      cap.begin(10 * 1024 * 1024)
      cap.feed('stdout', out)
      cap.feed('stderr', err)
      await cap.finish({ waitMs: 1000, quietMs: 0 })
    }
    return ((performance.now() - t0) * 1000) / n
  }
  await perActivation(20_000) // warm-up
  const rounds = [await perActivation(50_000), await perActivation(50_000), await perActivation(50_000)]
  const flood = new LogCapture()
  flood.begin(10 * 1024 * 1024)
  const chunk = Buffer.alloc(64 * 1024, 'x')
  const t0 = performance.now()
  for (let i = 0; i < 1024; i++) flood.feed('stdout', chunk)
  flood.feed('stdout', Buffer.from(`${SENTINEL}\n`))
  flood.feed('stderr', Buffer.from(`${SENTINEL}\n`))
  const { logs } = await flood.finish({ waitMs: 1000, quietMs: 0 })
  return {
    usPerActivation: rounds.map((r) => +r.toFixed(2)),
    flood64MiBWithoutNewlineMs: +(performance.now() - t0).toFixed(1),
    floodTruncated: /Logs were truncated/.test(logs.at(-1) ?? ''),
  }
}
