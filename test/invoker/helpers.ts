import { randomBytes } from 'node:crypto'
import Dockerode from 'dockerode'
import { type InvokeRequest, Invoker, type InvokerOptions } from '../../agent/invoker/index.ts'
import { silentLogger } from '../../agent/log.ts'
import { HybridClock } from '../../agent/store/hlc.ts'
import { DEFAULT_LIMITS, type FunctionRecord, type Limits, newActivationId } from '../../agent/store/types.ts'
import { inspectImage } from '../../runtimes/build/image.ts'
import { ensureRuntimes, imageFor } from '../../runtimes/build/index.ts'
import type { RuntimeKind } from '../../runtimes/build/specs.ts'
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
  more: { fixtureAsNode?: boolean; nodeId?: string; images?: Record<string, string> } = {},
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
      imageFor: fixture
        ? (kind) => (kind === 'nodejs:24' ? fixture : imageFor(kind))
        : (kind) => more.images?.[kind] ?? imageFor(kind),
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

/**
 * The runtime image of `kind` built from this checkout's sources, under a tag of its own
 * (`fnagent-test/<kind>-<hash>`): `fnagent/<kind>` is one tag on a machine where checkouts with
 * other runtime sources (other worktrees' tests) rebuild it, and a test that changed the runtime
 * must not start half of its containers from another checkout's image.
 */
export async function pinnedRuntime(kind: RuntimeKind): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const [built] = await ensureRuntimes(docker, { kinds: [kind] })
    if (!built) break
    const pinned = `fnagent-test/${kind.replace(':', '-')}:${built.hash.slice(0, 12)}`
    const [repo, tag] = pinned.split(':') as [string, string]
    await docker.getImage(built.image).tag({ repo, tag })
    if ((await inspectImage(docker, pinned))?.hash === built.hash) return pinned
  }
  throw new Error(`could not pin the ${kind} runtime image: it keeps being rebuilt`)
}

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
