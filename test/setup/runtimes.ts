import Dockerode from 'dockerode'
import { ensureRuntimes } from '../../runtimes/build/index.ts'

/**
 * vitest globalSetup: builds the runtime images once, before any test file runs (offline:
 * debootstrap + docker import; cached by content hash, so a second run is instant). Doing it here
 * keeps test files running in parallel from building the same image twice.
 */
export default async function setup(): Promise<void> {
  const t0 = Date.now()
  const built = await ensureRuntimes(new Dockerode(), {
    onProgress: (p) => {
      if (p.step !== 'cached')
        process.stdout.write(`[runtimes] ${p.kind}: ${p.step}${p.message ? ` (${p.message})` : ''}\n`)
    },
  })
  const fresh = built.filter((b) => !b.cached)
  if (fresh.length)
    process.stdout.write(
      `[runtimes] built ${fresh.map((b) => b.image).join(', ')} in ${Date.now() - t0} ms\n`,
    )
}
