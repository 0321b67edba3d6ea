import { createRequire } from 'node:module'

interface WasmXor {
  _memory: Uint8Array
  realloc(size: number): void
  __fnagentPatched?: boolean
}

/**
 * Mends a bug in `xsalsa20` 1.2.0 (the latest release; `@libp2p/pnet` 3.0.27 depends on
 * `^1.2.0`), the cipher under the cluster key. All its
 * instances share one WebAssembly memory; growing it detaches every other instance's view, and
 * each stale instance then grows the memory again on its next write (by the size of that write)
 * instead of re-reading it. A few hundred alternations after one large write exhaust the 64 MiB
 * maximum and the process dies with `WebAssembly.Memory.grow(): Maximum memory size exceeded`.
 * The fix: a stale instance first adopts the current buffer and grows only when that is too small.
 * Process-wide and idempotent. test/cluster/pnet-patch.test.ts runs the unpatched cipher in a
 * child process and expects that crash: when an upgrade fixes it, that test fails, and this file
 * and its call in cluster/node.ts go.
 */
export function patchPnetCipher(): void {
  const require = createRequire(import.meta.resolve('@libp2p/pnet'))
  const XSalsa20 = require('xsalsa20') as (
    nonce: Uint8Array,
    key: Uint8Array,
  ) => { _xor: WasmXor; finalize(): void }
  const probe = XSalsa20(new Uint8Array(24), new Uint8Array(32))
  const proto = Object.getPrototypeOf(probe._xor) as WasmXor
  probe.finalize()
  if (proto.__fnagentPatched || typeof proto.realloc !== 'function') return // fixed, or the JS fallback
  const realloc = proto.realloc
  let latest: ArrayBuffer | null = null
  proto.realloc = function (this: WasmXor, size: number) {
    if (latest && latest.byteLength > 0 && this._memory.buffer !== latest) {
      this._memory = new Uint8Array(latest)
      if (size < this._memory.length) return
    }
    realloc.call(this, size)
    latest = this._memory.buffer as ArrayBuffer
  }
  proto.__fnagentPatched = true
}
