import type { RunRequest } from '../activations/index.ts'
import { RpcChannels, type RpcDialer, RpcError, type RpcServer } from '../cluster/index.ts'
import { errors } from '../errors.ts'
import type { InvokeRequest } from '../invoker/index.ts'
import { prewarmKey, warmKey } from '../invoker/keys.ts'
import type { Startable } from '../lifecycle.ts'
import type { Logger } from '../log.ts'
import type { HybridClock } from '../store/hlc.ts'
import type { ActivationRecord, FunctionRecord, Store } from '../store/index.ts'
import { type Candidate, chooseCandidates, withSelf } from './choose.ts'
import { lostRecord } from './lost.ts'
import {
  FORWARD_PROTOCOLS,
  type ForwardRequest,
  type ForwardResponse,
  forwardResponseSchema,
  type PlacementExplain,
  runAnnotations,
} from './messages.ts'
import { OptimisticView } from './optimistic.ts'
import { PLACEMENT_DEFAULTS, type PlacementOptions } from './options.ts'
import { forcedOrder, invokeOrRefuse, type Refused, refused, refusedAnswer } from './refusal.ts'
import { type PlacementMember, type PlacementTarget, type PlacementView, scanView } from './score.ts'
import { ForwardTarget } from './target.ts'

/** The invoker as placement sees it (the `Invoker`, its acceptance rules beside `invoke`). */
export interface LocalInvoker {
  invoke(req: InvokeRequest): Promise<ActivationRecord>
  canAccept(fn: FunctionRecord): boolean
  hasIdleWarm(fn: FunctionRecord): boolean
  /** Room for the function without evicting another function's idle container. */
  fitsWithoutEviction(fn: FunctionRecord): boolean
  /** Activations of the function that could start now, evicting idle containers if need be. */
  freeSlots(fn: FunctionRecord): number
}

/** The cluster as placement sees it (absent when the agent runs alone). */
export interface PlacementCluster extends RpcDialer, RpcServer {
  /** What placement reads per invocation: the cluster's live member objects and its warm index. */
  placementView(): PlacementView<PlacementMember & { seq: number }>
}

export interface PlacementComponents {
  logger: Logger
  store: Store
  clock: HybridClock
  nodeId: string
  invoker: LocalInvoker
  cluster: PlacementCluster | null
  /**
   * Stores (and replicates) the record of an activation this node ran for a peer; `receivedBy`
   * gets it in the answer, so replication does not push it there.
   */
  keepRecord: (record: ActivationRecord, receivedBy: string) => Promise<void>
  /** The code of a function version: here, else fetched from a peer that has it (hash-checked). */
  loadCode: (fn: FunctionRecord, signal: AbortSignal) => Promise<Buffer | null>
  draining: () => boolean
  /** Counts placements and refusals (the metrics); absent, nothing is counted. */
  observer?: PlacementObserver
}

/** What placement reports of each invocation it placed. */
export interface PlacementObserver {
  /** Taken by a candidate: here or a peer, for which reason, at which attempt (1: the first). */
  placed(where: 'local' | 'forwarded', reason: string, attempt: number): void
  /** A candidate refused (the error code) or was lost mid-flight (`LOST`). */
  refused(reason: string): void
}

/** The placement options (options.ts): the candidate list's tunables and the forwarding limit. */
export type PlacementInit = PlacementOptions

export function targetOf(fn: FunctionRecord): PlacementTarget {
  return {
    warmKey: warmKey(fn),
    prewarmKey: prewarmKey(fn.kind, fn.limits.memory),
    homeKey: `${fn.namespace}/${fn.name}`,
    codeHash: fn.codeHash,
    memoryMiB: fn.limits.memory,
  }
}

type RunArgs = RunRequest

const NO_PEERS = scanView<PlacementMember & { seq: number }>([])

/**
 * Decides where an invocation runs and takes it there: the ordered candidates (warm, home, load),
 * each asked in turn; a target refuses at once from its fresh state and the next is tried.
 */
export class Placement implements Startable {
  readonly #c: PlacementComponents
  readonly #init: PlacementInit
  readonly #optimistic = new OptimisticView()
  readonly #channels: RpcChannels | null

  constructor(components: PlacementComponents, init: Partial<PlacementInit> = {}) {
    this.#c = components
    this.#init = { ...PLACEMENT_DEFAULTS, ...init }
    const cluster = components.cluster
    const maxBytes = this.#init.maxMessageBytes
    this.#channels = cluster ? new RpcChannels(cluster, FORWARD_PROTOCOLS, { maxBytes }) : null
  }

  /** Serves the forwarding protocol (the target side). */
  async start(): Promise<void> {
    if (this.#c.cluster) await new ForwardTarget(this.#c, this.#init).start(this.#c.cluster)
  }

  /** Ends the forwarding channels to peers; invocations still waiting on them fail as lost. */
  async stop(): Promise<void> {
    this.#channels?.closeAll()
  }

  /** The Runner of the activation service: runs `req` here or on the best peer. */
  async run(req: RunArgs): Promise<ActivationRecord> {
    const self = this.#c.nodeId
    const t = targetOf(req.fn)
    const view = this.#c.cluster ? this.#optimistic.apply(this.#c.cluster.placementView()) : NO_PEERS
    const idleHere = this.#c.invoker.hasIdleWarm(req.fn)
    const cands = withSelf(chooseCandidates(view, t, this.#init), self, idleHere)
    const refusals: string[] = []
    // First pass on each target's own terms; then, once, the targets that refused only to keep
    // their warm containers are asked to take it anyway.
    let pass = cands
    for (const forced of [false, true]) {
      const soft: Array<{ cand: Candidate; freeSlots?: number | undefined }> = []
      for (const [i, c] of pass.entries()) {
        if (Date.now() > req.deadline || req.signal.aborted) break
        const cand: Candidate = forced ? { ...c, reason: 'force' } : c
        const next = pass[i + 1]
        const runnerUp = next ? { node: next.peerId, score: round(next.score) } : null
        const explain: PlacementExplain = {
          receivedBy: self,
          reason: cand.reason,
          score: round(cand.score),
          runnerUp,
          attempt: refusals.length + 1,
        }
        const out = await this.#try(cand, req, explain, view.members, t)
        if (out.type === 'done') {
          this.#c.observer?.placed(cand.peerId === self ? 'local' : 'forwarded', cand.reason, explain.attempt)
          return out.record
        }
        this.#c.observer?.refused(out.type === 'lost' ? 'LOST' : out.code)
        if (out.type === 'lost') {
          if (req.fn.annotations.retry !== true)
            return lostRecord(req, cand.peerId, out.message, explain, this.#c.clock.now(), self)
          this.#c.logger.warn(
            { activationId: req.activationId, peer: cand.peerId },
            'peer lost mid-flight; retrying (retry-safe)',
          )
        }
        refusals.push(`${short(cand.peerId)}${cand.peerId === self ? ' (this node)' : ''}: ${out.message}`)
        if (out.type === 'refused') this.#optimistic.release(cand.peerId, t)
        if (out.type === 'refused' && (out.code === 'NOT_WARM' || out.code === 'WOULD_EVICT'))
          soft.push({ cand: c, freeSlots: out.freeSlots })
      }
      pass = forcedOrder(soft).map((s) => s.cand)
      if (pass.length === 0) break
    }
    throw errors.nodeFull(`no node could take ${req.fn.name}: ${refusals.join('; ') || 'no candidates'}`, {
      details: { refusals },
    })
  }

  /** Runs here, or asks one peer; the outcome, a refusal, or the peer lost mid-flight. */
  async #try(
    cand: Candidate,
    req: RunArgs,
    explain: PlacementExplain,
    members: ReadonlyArray<PlacementMember & { seq: number }>,
    t: PlacementTarget,
  ): Promise<{ type: 'done'; record: ActivationRecord } | Refused | { type: 'lost'; message: string }> {
    if (cand.peerId === this.#c.nodeId) {
      const refusal = refusedAnswer(this.#c.invoker, this.#c.draining(), req.fn, cand.reason)
      if (refusal) return refusal
      const inv = this.#c.invoker
      return invokeOrRefuse(inv, req.fn, () =>
        inv.invoke({
          ...req,
          extraAnnotations: [...runAnnotations(explain, req.traceparent), ...(req.annotations ?? [])],
        }),
      )
    }
    const member = members.find((m) => m.peerId === cand.peerId)
    if (member) this.#optimistic.take(cand.peerId, member.seq, t)
    return this.#forward(cand, req, explain)
  }

  async #forward(
    cand: Candidate,
    req: RunArgs,
    explain: PlacementExplain,
  ): Promise<ForwardResponse | { type: 'lost'; message: string }> {
    const msg: ForwardRequest = {
      v: 1,
      fn: req.fn,
      params: req.params,
      activationId: req.activationId,
      deadline: req.deadline,
      hops: 1,
      explain,
      ...(req.apiKey ? { apiKey: req.apiKey } : {}),
      ...(req.cause ? { cause: req.cause } : {}),
      ...(req.annotations?.length ? { annotations: req.annotations } : {}),
      ...(req.namespace ? { namespace: req.namespace } : {}),
      ...(req.traceparent ? { traceparent: req.traceparent } : {}),
    }
    const signal = AbortSignal.any([
      req.signal,
      AbortSignal.timeout(Math.max(1000, req.deadline - Date.now())),
    ])
    try {
      return await this.#channels!.call(cand.peerId, msg, forwardResponseSchema, signal)
    } catch (err) {
      if (err instanceof RpcError && err.kind === 'unreachable') {
        return refused(errors.unreachable(err.message))
      }
      return { type: 'lost', message: (err as Error).message }
    }
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}

function short(id: string): string {
  return id.slice(-8)
}
