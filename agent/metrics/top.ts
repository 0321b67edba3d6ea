import { z } from 'zod'
import type { Capacity, MemberView } from '../cluster/index.ts'
import { RpcChannels, type RpcDialer, type RpcServer, serveChannel } from '../cluster/index.ts'
import type { InvokerState } from '../invoker/index.ts'
import type { Startable } from '../lifecycle.ts'
import type { Logger } from '../log.ts'
import type { ActivationRecord } from '../store/types.ts'
import { FunctionLabels, OTHER } from './labels.ts'

/** One node's activation counts, asked for by `fnagent top` on any node (once a second a viewer). */
export const TOP_PROTOCOLS = ['/fnagent/top/1.0.0'] as const

const fnStatsSchema = z.object({
  fn: z.string().max(600),
  count: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  meanMs: z.number().nonnegative(),
  maxMs: z.number().nonnegative(),
})
const count = z.number().int().nonnegative()
/** This node's share of the durable queue. */
const queueSchema = z.object({
  /** Jobs waiting, by asked priority (0, 1, 2). */
  waiting: z.array(count).max(3),
  running: count,
  delayed: count,
  /** Jobs dead-lettered here since start. */
  deadLetters: count,
})
/** A trigger fired on this node: its activation (null: no active rule, nothing recorded) and its rules' outcomes. */
const fireSchema = z.object({
  trigger: z.string().max(600),
  at: z.number(),
  activationId: z.string().max(64).nullable(),
  started: count,
  failed: count,
})
export type TriggerFire = z.infer<typeof fireSchema>
export type QueueSummary = z.infer<typeof queueSchema>

export const nodeStatsSchema = z.object({
  node: z.string().max(128),
  /** Activations this node ran, and those that did not succeed, since it started. */
  activations: count,
  errors: count,
  /** Its slowest functions by mean duration (at most `SLOWEST`). */
  slowest: z.array(fnStatsSchema).max(20),
  /** Absent from a node that does not tell. */
  queue: queueSchema.optional(),
  /** Its most recent trigger fires (newest first, at most 20). */
  fires: z.array(fireSchema).max(20).optional(),
})
export type NodeStats = z.infer<typeof nodeStatsSchema>

const SLOWEST = 10
/** How long a viewer waits for a node's answer, ms (a slow node shows as unknown, the view goes on). */
const ASK_TIMEOUT_MS = 800

/** What the top view needs of the cluster (absent when the agent runs alone). */
export interface TopCluster extends RpcDialer, RpcServer {
  view(): Array<Pick<MemberView, 'peerId' | 'state' | 'self' | 'capacity' | 'warm'>>
}

export interface TopComponents {
  logger: Logger
  nodeId: string
  cluster: TopCluster | null
  /** This node's invoker, for an agent that runs alone (no gossip view of itself). */
  invoker: () => InvokerState
  /** This node's queue and recent trigger fires, shown beside its counts. */
  queue?: () => QueueSummary
  fires?: () => TriggerFire[]
}

/** One row of `fnagent top`: a member as gossip shows it, and its counts (null: it did not answer). */
export interface TopNode {
  nodeId: string
  state: string
  self: boolean
  /** CPUs, load average, budget, free slots, in-flight activations (null when alone: see inflight). */
  capacity: Capacity | null
  inflight: number
  /** Warm containers (busy or idle). */
  warm: number
  /** The functions those are of (`namespace/name`). */
  warmFunctions: string[]
  stats: NodeStats | null
}

/**
 * Counts the activations this node runs (per function: calls, errors, duration), serves them to
 * peers, and gathers every alive member's for `fnagent top`. Functions past `maxFunctions` share
 * one entry, as in the metrics.
 */
export class ClusterTop implements Startable {
  readonly #c: TopComponents
  readonly #channels: RpcChannels | null
  readonly #fns: FunctionLabels
  readonly #perFn = new Map<string, { count: number; errors: number; totalMs: number; maxMs: number }>()
  #activations = 0
  #errors = 0

  constructor(components: TopComponents, init: { maxFunctions: number }) {
    this.#c = components
    this.#fns = new FunctionLabels(init.maxFunctions)
    this.#channels = components.cluster
      ? new RpcChannels(components.cluster, TOP_PROTOCOLS, { maxBytes: 64 * 1024 })
      : null
  }

  async start(): Promise<void> {
    if (!this.#c.cluster) return
    await serveChannel(this.#c.cluster, TOP_PROTOCOLS, async () => this.local(), {
      maxBytes: 64 * 1024,
      timeoutMs: 5000,
      maxInflight: 16,
      onBusy: () => ({ busy: true }),
      logger: this.#c.logger,
    })
  }

  async stop(): Promise<void> {
    this.#channels?.closeAll()
  }

  /** An activation this node ran (the invoker's hook). */
  ran(record: ActivationRecord): void {
    const failed = record.response.status !== 'success'
    this.#activations++
    if (failed) this.#errors++
    const [ns, name] = this.#fns.of(record.namespace, record.name)
    const key = ns === OTHER ? OTHER : `${ns}/${name}`
    let s = this.#perFn.get(key)
    if (!s) {
      s = { count: 0, errors: 0, totalMs: 0, maxMs: 0 }
      this.#perFn.set(key, s)
    }
    s.count++
    if (failed) s.errors++
    s.totalMs += record.duration
    s.maxMs = Math.max(s.maxMs, record.duration)
  }

  /** This node's counts. */
  local(): NodeStats {
    const slowest = [...this.#perFn.entries()]
      .map(([fn, s]) => ({
        fn,
        count: s.count,
        errors: s.errors,
        meanMs: s.totalMs / s.count,
        maxMs: s.maxMs,
      }))
      .sort((a, b) => b.meanMs - a.meanMs)
      .slice(0, SLOWEST)
    const { queue, fires } = this.#c
    return {
      node: this.#c.nodeId,
      activations: this.#activations,
      errors: this.#errors,
      slowest,
      ...(queue ? { queue: queue() } : {}),
      ...(fires ? { fires: fires().slice(0, 20) } : {}),
    }
  }

  /** Every alive member's counts (null for one that did not answer in time), asked in parallel. */
  async gather(signal: AbortSignal): Promise<Record<string, NodeStats | null>> {
    const peers =
      this.#c.cluster?.view().filter((m) => m.state === 'alive' && m.peerId !== this.#c.nodeId) ?? []
    const out: Record<string, NodeStats | null> = { [this.#c.nodeId]: this.local() }
    await Promise.all(
      peers.map(async ({ peerId }) => {
        try {
          out[peerId] = await this.#channels!.call(
            peerId,
            { v: 1 },
            nodeStatsSchema,
            AbortSignal.any([signal, AbortSignal.timeout(ASK_TIMEOUT_MS)]),
          )
        } catch (err) {
          this.#c.logger.debug({ err, peer: peerId }, 'top: a node did not answer')
          out[peerId] = null
        }
      }),
    )
    return out
  }

  /** The whole picture for `fnagent top`: every member with its counts. */
  async view(signal: AbortSignal): Promise<{ at: number; nodes: TopNode[] }> {
    const stats = await this.gather(signal)
    const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0)
    const members = this.#c.cluster?.view()
    const nodes: TopNode[] = members
      ? members.map((m) => ({
          nodeId: m.peerId,
          state: m.state,
          self: m.self,
          capacity: m.capacity,
          inflight: m.capacity.inflight,
          warm: sum(m.warm),
          warmFunctions: functionsOf(m.warm),
          stats: stats[m.peerId] ?? null,
        }))
      : [
          {
            nodeId: this.#c.nodeId,
            state: 'alive',
            self: true,
            capacity: null,
            inflight: this.#c.invoker().inflight,
            warm: sum(this.#c.invoker().warm),
            warmFunctions: functionsOf(this.#c.invoker().warm),
            stats: stats[this.#c.nodeId] ?? null,
          },
        ]
    return { at: Date.now(), nodes }
  }
}

/** `namespace/name` of each warm inventory key (`namespace/name@version`). */
function functionsOf(warm: Record<string, number>): string[] {
  return [...new Set(Object.keys(warm).map((k) => k.slice(0, k.lastIndexOf('@'))))]
}
