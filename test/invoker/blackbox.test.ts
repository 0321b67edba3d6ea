import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ensureBlackboxImage } from './fixtures/images.ts'
import { docker, fnRecord, makeInvoker, request, TEST_NETWORK, type TestInvoker } from './helpers.ts'

vi.setConfig({ testTimeout: 60_000, hookTimeout: 120_000 })

describe('invoker with blackbox images', () => {
  let t: TestInvoker
  let image: string
  beforeAll(async () => {
    image = await ensureBlackboxImage(docker)
    t = await makeInvoker({ memoryBudgetMiB: 1024 })
    await t.invoker.start()
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('waits for a slow-starting server before /init', async () => {
    // The server listens only after 1.5 s: /init is retried while the connection is refused.
    const slow = await ensureBlackboxImage(docker, { startDelayMs: 1500 })
    const fn = fnRecord({ kind: 'blackbox', image: slow })
    const rec = await t.invoker.invoke({ ...request(fn, { a: 1 }), code: null })
    expect(rec.response.status).toBe('success')
    expect(rec.response.result).toMatchObject({ echo: { a: 1 }, env: { initialized: true } })
    expect(rec.annotations).toContainEqual({ key: 'start', value: 'cold' })
    expect(rec.annotations.find((a) => a.key === 'initTime')?.value).toBeGreaterThanOrEqual(1000)
  })

  it('runs locked down: read-only root, no capabilities, limits, labels, no mounts', async () => {
    const fn = fnRecord({ kind: 'blackbox', image, limits: { memory: 128 } })
    await t.invoker.invoke({ ...request(fn), code: null })
    const [info] = await docker.listContainers({
      filters: { label: [`fnagent.node=${t.nodeId}`, `fnagent.fn=guest/${fn.name}`] },
    })
    const c = await docker.getContainer(info!.Id).inspect()
    expect(c.HostConfig.ReadonlyRootfs).toBe(true)
    expect(c.HostConfig.CapDrop).toEqual(['ALL'])
    expect(c.HostConfig.SecurityOpt).toContain('no-new-privileges')
    expect(c.HostConfig.Memory).toBe(128 * 1024 * 1024)
    expect(c.HostConfig.MemorySwap).toBe(128 * 1024 * 1024)
    expect(c.HostConfig.PidsLimit).toBe(1024)
    expect(c.Mounts).toEqual([])
    expect(c.Config.Labels).toMatchObject({
      'fnagent.version': '1',
      'fnagent.kind': 'blackbox',
      'fnagent.role': 'warm',
    })
    expect(Object.keys(c.NetworkSettings.Networks)).toEqual([TEST_NETWORK])
  })

  it('runs the image as nobody unless its owner asks for the image user, and says so in the record', async () => {
    const user = async (fn: ReturnType<typeof fnRecord>) => {
      const [info] = await docker.listContainers({
        filters: { label: [`fnagent.node=${t.nodeId}`, `fnagent.fn=guest/${fn.name}`] },
      })
      return (await docker.getContainer(info!.Id).inspect()).Config.User
    }
    const locked = fnRecord({ kind: 'blackbox', image })
    const rec = await t.invoker.invoke({ ...request(locked, { a: 1 }), code: null })
    expect(rec.response.status).toBe('success')
    expect(rec.annotations).toContainEqual({ key: 'user', value: '65534:65534' })
    expect(await user(locked)).toBe('65534:65534')

    const own = fnRecord({ kind: 'blackbox', image, annotations: { 'run-as-image-user': true } })
    const rec2 = await t.invoker.invoke({ ...request(own), code: null })
    expect(rec2.response.status).toBe('success')
    expect(rec2.annotations).toContainEqual({ key: 'user', value: 'image' })
    expect(await user(own)).toBe('')
  })

  it('cannot reach a port on the host', async () => {
    const server = createServer((s) => s.end())
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', r))
    try {
      const port = (server.address() as { port: number }).port
      const net = await docker.getNetwork(TEST_NETWORK).inspect()
      const gateway = net.IPAM?.Config?.[0]?.Gateway as string
      const fn = fnRecord({ kind: 'blackbox', image })
      const rec = await t.invoker.invoke({ ...request(fn, { connect: { host: gateway, port } }), code: null })
      expect(rec.response.result).toMatchObject({ connected: false })
    } finally {
      server.close()
    }
  })
})
