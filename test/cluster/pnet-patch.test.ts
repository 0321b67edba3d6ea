import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { patchPnetCipher } from '../../agent/cluster/pnet-patch.ts'

type Cipher = { update(b: Uint8Array): Uint8Array }
const require = createRequire(import.meta.resolve('@libp2p/pnet'))
const XSalsa20 = require('xsalsa20') as (nonce: Uint8Array, key: Uint8Array) => Cipher

describe('the cluster-key cipher', () => {
  it('still needs the patch: unpatched, the cipher dies after alternating writes (xsalsa20 1.2.0)', () => {
    const { version } = require('xsalsa20/package.json') as { version: string }
    const run = spawnSync(process.execPath, [join(import.meta.dirname, 'fixtures/pnet-unpatched.ts')], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    // If this fails, xsalsa20 (now ${version}) no longer has the bug: remove agent/cluster/pnet-patch.ts.
    expect({ version, status: run.status, crashed: /Maximum memory size exceeded/.test(run.stderr) }).toEqual(
      {
        version,
        status: 1,
        crashed: true,
      },
    )
  })

  it('survives connections alternating after one large write (no runaway memory growth)', () => {
    patchPnetCipher()
    patchPnetCipher() // idempotent
    const a = XSalsa20(new Uint8Array(24), new Uint8Array(32))
    const b = XSalsa20(new Uint8Array(24), new Uint8Array(32))
    a.update(new Uint8Array(1_000_000))
    // Unpatched, this dies after a few hundred rounds with "Maximum memory size exceeded".
    for (let i = 0; i < 3000; i++) {
      b.update(new Uint8Array(700_000))
      a.update(new Uint8Array(700_000))
    }
  })

  it('still produces the same key stream, whatever the write sizes', () => {
    patchPnetCipher()
    const nonce = new Uint8Array(24).fill(1)
    const key = new Uint8Array(32).fill(2)
    const whole = XSalsa20(nonce, key).update(new Uint8Array(3_000_000).fill(7))
    const parts = XSalsa20(nonce, key)
    const pieces = [1_000_000, 64, 999_936, 1_000_000].map((n) =>
      Buffer.from(parts.update(new Uint8Array(n).fill(7))),
    )
    expect(Buffer.compare(Buffer.from(whole), Buffer.concat(pieces))).toBe(0)
  })
})
