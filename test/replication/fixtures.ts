import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Cluster, Stream } from '../../agent/cluster/index.ts'
import { FunctionService } from '../../agent/functions/index.ts'
import { silentLogger } from '../../agent/log.ts'
import {
  Replication,
  type ReplicationCluster,
  type ReplicationOptions,
} from '../../agent/replication/index.ts'
import { HybridClock } from '../../agent/store/hlc.ts'
import { type ActivationRecord, Store } from '../../agent/store/index.ts'
import { converged, createCluster, type TestNode } from '../cluster/fixtures/create-cluster.ts'
import { activationRecord } from '../helpers/records.ts'
import { waitFor } from '../helpers/wait-for.ts'

/** Fast anti-entropy for tests; the logic is the same. */
export const FAST_REPL: Partial<ReplicationOptions> = { antiEntropyMs: 300, requestTimeoutMs: 5000 }

export interface ReplNode {
  node: TestNode
  cluster: Cluster
  peerId: string
  store: Store
  clock: HybridClock
  replication: Replication
  functions: FunctionService
  /** Peers this node neither dials nor answers on the replication protocol (a partition). */
  cut: Set<string>
  /** Stops this node abruptly: no leave, replication and cluster stopped, store closed. */
  crash(): Promise<void>
}

/**
 * The peers a node's replication is cut from. Adding one also breaks the streams already open to
 * it (replication keeps one long-lived channel per peer, which a cut must not leave working).
 */
class CutSet extends Set<string> {
  readonly streams = new Map<string, Set<Stream>>()

  track(peerId: string, stream: Stream): Stream {
    let set = this.streams.get(peerId)
    if (!set) {
      set = new Set()
      this.streams.set(peerId, set)
    }
    set.add(stream)
    stream.addEventListener('close', () => set.delete(stream))
    return stream
  }

  override add(peerId: string): this {
    super.add(peerId)
    for (const s of this.streams.get(peerId) ?? []) s.abort(new Error('partitioned'))
    return this
  }
}

/** A cluster whose replication protocol can be cut between chosen peers (gossip keeps working). */
function cuttable(cluster: Cluster, cut: CutSet): ReplicationCluster {
  return {
    get peerId() {
      return cluster.peerId
    },
    view: () => cluster.view(),
    onChange: (listener) => cluster.onChange(listener),
    handle: (protocol, handler) =>
      cluster.handle(protocol, (stream, connection) => {
        const from = connection.remotePeer.toString()
        if (cut.has(from)) stream.abort(new Error('partitioned'))
        else return handler(cut.track(from, stream), connection)
      }),
    dialProtocol: async (peerId, protocol, signal, opts) => {
      if (cut.has(peerId)) throw new Error(`partitioned from ${peerId}`)
      return cut.track(peerId, await cluster.dialProtocol(peerId, protocol, signal, opts))
    },
  }
}

/**
 * `n` in-process agents' worth of replication: a real Cluster (libp2p on 127.0.0.1), a LevelDB
 * store in a temp dir, a FunctionService wired to `functionWritten`, and a Replication each.
 */
export async function createReplicated(opts: {
  n: number
  options?: Partial<ReplicationOptions>
  /** The wall clock of node `i` (default Date.now): a skewed clock for consistency tests. */
  wallClock?: (i: number) => (() => number) | undefined
}) {
  const c = await createCluster({ n: 0 })
  const dirs: string[] = []
  const nodes: ReplNode[] = []
  const stops: Array<() => Promise<void>> = []

  const add = async (): Promise<ReplNode> => {
    const node = await c.add()
    const dir = await mkdtemp(join(tmpdir(), 'fnagent-repl-'))
    dirs.push(dir)
    const store = await Store.open(dir)
    const clock = new HybridClock({ now: opts.wallClock?.(nodes.length) ?? Date.now })
    const cut = new CutSet()
    const peerId = node.cluster.peerId
    const replication = new Replication(
      { logger: silentLogger(), store, clock, cluster: cuttable(node.cluster, cut), nodeId: peerId },
      { ...FAST_REPL, ...opts.options },
    )
    const functions = new FunctionService(
      {
        logger: silentLogger(),
        store,
        clock,
        nodeId: peerId,
        onWrite: (record, code, waitReplicas) => replication.functionWritten(record, code, waitReplicas),
      },
      { namespace: 'guest', maxCodeBytes: 1024 * 1024 },
    )
    let stopped = false
    const crash = async () => {
      if (stopped) return
      stopped = true
      await replication.stop()
      await node.cluster.stop()
      await store.close()
    }
    stops.push(crash)
    await replication.start()
    if (nodes.length > 0) await node.cluster.join(nodes[0]!.cluster.addresses()[0]!)
    const r: ReplNode = {
      node,
      cluster: node.cluster,
      peerId,
      store,
      clock,
      replication,
      functions,
      cut,
      crash,
    }
    nodes.push(r)
    return r
  }

  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {})
    await c.stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  }
  try {
    for (let i = 0; i < opts.n; i++) await add()
    await waitFor(() => converged(nodes.map((x) => x.node)), {
      what: 'every node alive in every view',
      timeoutMs: 30_000,
    })
    await waitFor(() => nodes.every((x) => x.replication.ownership.members.length === nodes.length), {
      what: 'owners',
      timeoutMs: 30_000,
    })
  } catch (err) {
    await stop()
    throw err
  }
  return { nodes, add, stop }
}

/** A valid activation record, as a node that ran it would store it. */
export function activation(node: ReplNode, over: Partial<ActivationRecord> = {}): ActivationRecord {
  return activationRecord({ node: node.peerId, hlc: node.clock.now(), origin: node.peerId, ...over })
}

/** Stores a record on `node` the way the activation service does, and hands it to replication. */
export async function storeActivation(node: ReplNode, record = activation(node)): Promise<ActivationRecord> {
  await node.store.activations.put(record)
  await node.replication.activationStored(record)
  return record
}

export function code(text: string): string {
  return Buffer.from(text).toString('base64')
}
