import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import { Store } from '../../agent/store/index.ts'

/**
 * A real store on disk per test: `open()` makes a fresh data directory and opens it, `reopen()`
 * closes it and opens the same directory again (a restart). Closed and removed after each test.
 */
export function tempStores(prefix: string) {
  let dir = ''
  let store: Store | undefined
  afterEach(async () => {
    await store?.close()
    store = undefined
    if (dir) await rm(dir, { recursive: true, force: true })
    dir = ''
  })
  return {
    async open(): Promise<Store> {
      dir = await mkdtemp(join(tmpdir(), prefix))
      store = await Store.open(dir)
      return store
    },
    async reopen(): Promise<Store> {
      await store?.close()
      store = await Store.open(dir)
      return store
    },
  }
}
