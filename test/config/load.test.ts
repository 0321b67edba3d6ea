import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { envKeys, loadConfig } from '../../agent/config/index.ts'
import { removeDir, tempDir } from '../helpers/agent-process.ts'

describe('configuration layers', () => {
  it('applies defaults < file < environment < flags and freezes the result', () => {
    const dir = tempDir()
    try {
      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify({ logLevel: 'warn', drainMs: 1, cluster: { heartbeatMs: 2000 } }),
      )
      const c = loadConfig({
        flags: { dataDir: dir, drainMs: 3 },
        env: { FNAGENT_DRAIN_MS: '2', FNAGENT_CLUSTER_BOOTSTRAP_PEERS: 'a:7700, b:7700' },
      })
      expect(c.logLevel).toBe('warn')
      expect(c.drainMs).toBe(3)
      expect(c.cluster.heartbeatMs).toBe(2000)
      expect(c.cluster.bootstrapPeers).toEqual(['a:7700', 'b:7700'])
      expect(c.invoker.idleTtlMs).toBe(600_000)
      expect(c.socket).toBe(join(dir, 'fnagent.sock'))
      expect(Object.isFrozen(c.cluster)).toBe(true)
    } finally {
      removeDir(dir)
    }
  })

  it('names each API for what it is, and takes placement options like any other section', () => {
    const dir = tempDir()
    try {
      const c = loadConfig({
        flags: { dataDir: dir, localApi: { socketGroup: 'fnagent' } },
        env: { FNAGENT_OPENWHISK_API_LISTEN: '127.0.0.1:3233', FNAGENT_PLACEMENT_MAX_CANDIDATES: '16' },
      })
      expect(c.localApi.socketGroup).toBe('fnagent')
      expect(c.openwhiskApi.listen).toBe('127.0.0.1:3233')
      expect(c.placement.maxCandidates).toBe(16)
      expect(c.placement.warm).toBe(3)
      expect(() => loadConfig({ flags: { dataDir: dir, http: { listen: '3233' } }, env: {} })).toThrow(/http/)
    } finally {
      removeDir(dir)
    }
  })

  it('names the key, the value and the rule of an invalid value', () => {
    const dir = tempDir()
    try {
      expect(() =>
        loadConfig({ flags: { dataDir: dir }, env: { FNAGENT_INVOKER_MEMORY_SHARE: '3' } }),
      ).toThrow(/invalid config value for invoker.memoryShare: 3 \(.*0.95.*\)/)
      expect(() => loadConfig({ flags: { dataDir: dir, bogus: 1 }, env: {} })).toThrow(/bogus/)
    } finally {
      removeDir(dir)
    }
  })

  it('derives one FNAGENT_* variable per leaf key', () => {
    const names = envKeys().map((k) => k.env)
    expect(names).toContain('FNAGENT_CLUSTER_HEARTBEAT_MS')
    expect(names).toContain('FNAGENT_DATA_DIR')
    expect(new Set(names).size).toBe(names.length)
  })
})
