import { randomBytes } from 'node:crypto'
import Dockerode from 'dockerode'
import { type InvokeRequest, Invoker, type InvokerOptions } from '../../agent/invoker/index.ts'
import { silentLogger } from '../../agent/log.ts'
import { HybridClock } from '../../agent/store/hlc.ts'
import { DEFAULT_LIMITS, type FunctionRecord, type Limits, newActivationId } from '../../agent/store/types.ts'
import { imageFor } from '../../runtimes/build/index.ts'
import { removeContainersOf } from '../helpers/agent-process.ts'
import { functionRecord } from '../helpers/records.ts'
import { ensureBlackboxImage } from './fixtures/images.ts'

export const docker = new Dockerode()

/** The network all invoker tests share (created on first use, never removed). */
export const TEST_NETWORK = 'fnagent-test-functions'

export interface TestInvoker {
  invoker: Invoker
  nodeId: string
  /** Stops the invoker and removes every container carrying this test's node id. */
  cleanup: () => Promise<void>
}

/**
 * An invoker with its own node id. `fixtureAsNode: true` maps the nodejs:24 kind to the blackbox test
 * image, to exercise the pool (prewarmed containers, warm reuse) without depending on the runtime images.
 */
export async function makeInvoker(
  opts: Partial<InvokerOptions> = {},
  more: { fixtureAsNode?: boolean; nodeId?: string } = {},
): Promise<TestInvoker> {
  const nodeId = more.nodeId ?? `test-${randomBytes(6).toString('hex')}`
  const fixture = more.fixtureAsNode ? await ensureBlackboxImage(docker) : null
  const invoker = new Invoker(
    {
      logger: silentLogger(),
      docker,
      nodeId,
      clock: new HybridClock(),
      systemMemoryMiB: async () => 8192,
      imageFor: fixture ? (kind) => (kind === 'nodejs:24' ? fixture : imageFor(kind)) : imageFor,
    },
    { network: TEST_NETWORK, prewarm: [], ...opts },
  )
  return {
    invoker,
    nodeId,
    cleanup: async () => {
      await invoker.stop()
      await removeContainersOf(nodeId)
    },
  }
}

export { removeContainersOf }

export async function containersOf(nodeId: string): Promise<Dockerode.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`fnagent.node=${nodeId}`] } })
}

let counter = 0

export function fnRecord(
  over: Omit<Partial<FunctionRecord>, 'limits'> & { limits?: Partial<Limits> } = {},
): FunctionRecord {
  const { limits, ...rest } = over
  return functionRecord({
    name: `fn${++counter}-${randomBytes(3).toString('hex')}`,
    ...rest,
    limits: { ...DEFAULT_LIMITS, timeout: 20_000, ...limits },
  })
}

export function request(fn: FunctionRecord, params: Record<string, unknown> = {}, code = ''): InvokeRequest {
  return { fn, code: Buffer.from(code), params, activationId: newActivationId() }
}

export function annotation(record: { annotations: { key: string; value: unknown }[] }, key: string): unknown {
  return record.annotations.find((a) => a.key === key)?.value
}
