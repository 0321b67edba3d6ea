import type { RunRequest } from '../activations/index.ts'
import { errors, FnError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { HybridClock } from '../store/hlc.ts'
import {
  type ActivationRecord,
  type FunctionRecord,
  owVersion,
  type Store,
  sha256,
  statusCode,
} from '../store/index.ts'
import { type Candidate, chooseCandidates, type Reason } from './choose.ts'
import {
  BLOB_PROTOCOL,
  blobRequestSchema,
  blobResponseSchema,
  FORWARD_PROTOCOL,
  type ForwardRequest,
  type ForwardResponse,
  forwardRequestSchema,
  forwardResponseSchema,
  MAX_HOPS,
  type PlacementExplain,
} from './messages.ts'
import { OptimisticView } from './optimistic.ts'
import { call, type RpcDialer, RpcError, type RpcServer, serve } from './rpc.ts'
import type { PlacementMember, PlacementTarget } from './score.ts'

/** The invoker as placement sees it. */
export interface LocalInvoker {
  invoke(req: {
    fn: FunctionRecord
    code: Buffer | null
    params: Record<string, unknown>
    activationId: string
    deadline?: number
    signal?: AbortSignal
    extraAnnotations?: Array<{ key: string; value: unknown }>
  }): Promise<ActivationRecord>
  canAccept(fn: FunctionRecord): boolean
  hasIdleWarm(fn: FunctionRecord): boolean
  /** Room for the function without evicting another function's idle container. */
  fitsWithoutEviction(fn: FunctionRecord): boolean
}

/** The cluster as placement sees it (absent when the agent runs alone). */
export interface PlacementCluster extends RpcDialer, RpcServer {
  view(): Array<PlacementMember & { seq: number }>
}

export interface PlacementComponents {
  logger: Logger
  store: Store
  clock: HybridClock
  nodeId: () => string
  invoker: LocalInvoker
  cluster: PlacementCluster | null
  /** Stores a record received from the node that ran it. */
  keepRecord: (record: ActivationRecord) => Promise<void>
  draining: () => boolean
}

export interface PlacementInit {
  homes: number
  d: number
  maxCandidates: number
  /** Largest forwarding message (code travels separately, by hash). */
  maxMessageBytes: number
  maxBlobBytes: number
}

export const PLACEMENT_DEFAULTS: PlacementInit = {
  homes: 1,
  d: 2,
  maxCandidates: 6,
  maxMessageBytes: 4 * 1024 * 1024,
  maxBlobBytes: 72 * 1024 * 1024,
}

export function targetOf(fn: FunctionRecord): PlacementTarget {
  return {
    warmKey: `${fn.namespace}/${fn.name}@${fn.version}`,
    prewarmKey: `${fn.kind}@${fn.limits.memory}`,
    homeKey: `${fn.namespace}/${fn.name}`,
    codeHash: fn.codeHash,
    memoryMiB: fn.limits.memory,
  }
}

type RunArgs = RunRequest

/**
 * Decides where an invocation runs and takes it there: the ordered candidates (warm, home, load),
 * each asked in turn; a target refuses at once from its fresh state and the next is tried.
 */
export class Placement {
  readonly #c: PlacementComponents
  readonly #init: PlacementInit
  readonly #optimistic = new OptimisticView()

  constructor(components: PlacementComponents, init: Partial<PlacementInit> = {}) {
    this.#c = components
    this.#init = { ...PLACEMENT_DEFAULTS, ...init }
  }

  async start(): Promise<void> {
    const cluster = this.#c.cluster
    if (!cluster) return
    const max = this.#init.maxMessageBytes
    await serve(cluster, FORWARD_PROTOCOL, forwardRequestSchema, (req, signal) => this.#accept(req, signal), {
      maxBytes: max,
      timeoutMs: 310_000,
      onInvalid: (reason) => ({ type: 'refused', code: 'INVALID', message: reason }),
    })
    await serve(
      cluster,
      BLOB_PROTOCOL,
      blobRequestSchema,
      async ({ hash }) => {
        const data = await this.#c.store.blobs.get(hash)
        return data ? { type: 'blob', data: data.toString('base64') } : { type: 'missing' }
      },
      { maxBytes: 1024, timeoutMs: 60_000, onInvalid: () => ({ type: 'missing' }) },
    )
  }

  /** The Runner of the activation service: runs `req` here or on the best peer. */
  async run(req: RunArgs): Promise<ActivationRecord> {
    const self = this.#c.nodeId()
    const t = targetOf(req.fn)
    const members = this.#c.cluster ? this.#optimistic.apply(this.#c.cluster.view()) : []
    let cands = chooseCandidates(members, t, this.#init)
    if (!cands.some((c) => c.peerId === self)) cands = [...cands, { peerId: self, reason: 'load', score: 0 }]
    const refusals: string[] = []
    // First pass on each target's own terms; then, once, the targets that refused only to keep
    // their warm containers are asked to take it anyway.
    let pass = cands
    for (const forced of [false, true]) {
      const soft: Candidate[] = []
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
        const out = await this.#try(cand, req, explain, members, t)
        if (out.type === 'done') return out.record
        if (out.type === 'lost') {
          if (req.fn.annotations.retry !== true)
            return this.#lostRecord(req, cand.peerId, out.message, explain)
          this.#c.logger.warn(
            { activationId: req.activationId, peer: cand.peerId },
            'peer lost mid-flight; retrying (retry-safe)',
          )
        }
        refusals.push(`${short(cand.peerId)}${cand.peerId === self ? ' (this node)' : ''}: ${out.message}`)
        if (out.type === 'refused' && (out.code === 'NOT_WARM' || out.code === 'WOULD_EVICT')) soft.push(c)
      }
      pass = soft
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
    members: Array<PlacementMember & { seq: number }>,
    t: PlacementTarget,
  ): Promise<
    | { type: 'done'; record: ActivationRecord }
    | { type: 'refused'; code: string; message: string }
    | { type: 'lost'; message: string }
  > {
    if (cand.peerId === this.#c.nodeId()) {
      const refusal = this.#refusal(req.fn, cand.reason)
      if (refusal) return { type: 'refused', code: refusal.code, message: refusal.message }
      const record = await this.#c.invoker.invoke({
        ...req,
        extraAnnotations: [{ key: 'placement', value: explain }],
      })
      return { type: 'done', record }
    }
    const member = members.find((m) => m.peerId === cand.peerId)
    if (member) this.#optimistic.take(cand.peerId, member.seq, t, cand.reason === 'warm')
    return this.#forward(cand, req, explain)
  }

  /**
   * A target's answer from its fresh state: an idle warm container is always taken; asked as
   * `warm`, it refuses without one; as `load`, it refuses rather than evict another function's warm
   * container; as `home` or `force`, it takes any room. (Measured in the simulator: evicting for
   * load-fallback work cascades into cold starts; refusing and forcing only as a last pass does not.)
   */
  #refusal(fn: FunctionRecord, reason: Reason): FnError | null {
    const inv = this.#c.invoker
    if (this.#c.draining()) return errors.draining('the node is draining')
    if (!inv.canAccept(fn)) return errors.nodeFull('no memory free for the container')
    if (inv.hasIdleWarm(fn)) return null
    if (reason === 'warm') return new FnError('NOT_WARM', 'no idle warm container', { status: 409 })
    if (reason === 'load' && !inv.fitsWithoutEviction(fn)) {
      return new FnError('WOULD_EVICT', 'only by evicting a warm container', { status: 409 })
    }
    return null
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
    }
    const signal = AbortSignal.any([
      req.signal,
      AbortSignal.timeout(Math.max(1000, req.deadline - Date.now())),
    ])
    try {
      return await call(this.#c.cluster!, cand.peerId, FORWARD_PROTOCOL, msg, forwardResponseSchema, {
        signal,
        maxBytes: this.#init.maxMessageBytes,
      })
    } catch (err) {
      if (err instanceof RpcError && err.kind === 'unreachable') {
        return { type: 'refused', code: 'UNREACHABLE', message: err.message }
      }
      return { type: 'lost', message: (err as Error).message }
    }
  }

  /** A target's side: accept or refuse at once from fresh local state, then run. */
  async #accept(req: ForwardRequest, signal: AbortSignal): Promise<ForwardResponse> {
    if (req.hops > MAX_HOPS) return { type: 'refused', code: 'HOPS', message: 'too many hops' }
    const refusal = this.#refusal(req.fn, req.explain.reason)
    if (refusal) return { type: 'refused', code: refusal.code, message: refusal.message }
    await this.#c.store.functions.write(req.fn)
    let code: Buffer | null = null
    if (req.fn.codeHash) {
      code = await this.#c.store.blobs.get(req.fn.codeHash)
      if (!code) code = await this.#fetchBlob(req.explain.receivedBy, req.fn.codeHash, signal)
      if (!code)
        return { type: 'refused', code: 'CODE_MISSING', message: `code ${req.fn.codeHash} not found` }
    }
    const record = await this.#c.invoker.invoke({
      fn: req.fn,
      code,
      params: req.params,
      activationId: req.activationId,
      deadline: req.deadline,
      signal,
      extraAnnotations: [{ key: 'placement', value: req.explain }],
    })
    await this.#c.keepRecord(record)
    return { type: 'done', record }
  }

  /** Fetches a code blob from a peer and verifies its hash before storing it. */
  async #fetchBlob(peerId: string, hash: string, signal: AbortSignal): Promise<Buffer | null> {
    const res = await call(this.#c.cluster!, peerId, BLOB_PROTOCOL, { hash }, blobResponseSchema, {
      signal,
      maxBytes: this.#init.maxBlobBytes,
    }).catch((err: unknown) => {
      this.#c.logger.warn({ err, peerId, hash }, 'blob fetch failed')
      return null
    })
    if (res?.type !== 'blob') return null
    const data = Buffer.from(res.data, 'base64')
    if (sha256(data) !== hash) {
      this.#c.logger.warn({ peerId, hash }, 'blob from peer does not match its hash: dropped')
      return null
    }
    await this.#c.store.blobs.put(data, hash)
    return data
  }

  #lostRecord(req: RunArgs, peerId: string, message: string, explain: PlacementExplain): ActivationRecord {
    const now = Date.now()
    const status = 'whisk internal error' as const
    return {
      activationId: req.activationId,
      namespace: req.fn.namespace,
      name: req.fn.name,
      version: owVersion(req.fn.version),
      subject: req.fn.namespace,
      start: now,
      end: now,
      duration: 0,
      statusCode: statusCode(status),
      response: {
        status,
        statusCode: statusCode(status),
        success: false,
        result: {
          error: `node ${peerId} was lost while running the activation (${message}); the function is not marked retry-safe (annotation retry true), so it was not retried`,
        },
      },
      logs: [],
      annotations: [
        { key: 'path', value: `${req.fn.namespace}/${req.fn.name}` },
        { key: 'kind', value: req.fn.kind },
        { key: 'limits', value: req.fn.limits },
        { key: 'placement', value: { ...explain, lostNode: peerId } },
      ],
      publish: false,
      node: peerId,
      cold: false,
      hlc: this.#c.clock.now(),
      origin: this.#c.nodeId(),
    }
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}

function short(id: string): string {
  return id.slice(-8)
}
