import type Dockerode from 'dockerode'
import { errors, FnError } from '../errors.ts'
import type { ServiceState, Startable } from '../lifecycle.ts'
import type { Logger } from '../log.ts'
import type { HybridClock } from '../store/hlc.ts'
import type { ActivationRecord, FunctionRecord, KeyValue } from '../store/types.ts'
import { activate } from './activation.ts'
import { pickEvictions, resolveBudgetMiB } from './capacity.ts'
import { FnContainer } from './container.ts'
import { ImageCache } from './images.ts'
import { prewarmKey, warmKey } from './keys.ts'
import { removeLeftovers } from './leftovers.ts'
import { type ContainerSpec, containerUser } from './limits.ts'
import { ensureNetwork, type FunctionsBridge } from './network.ts'
import { type InvokerOptions, invokerOptionsSchema } from './options.ts'
import { Pool } from './pool.ts'
import { Prewarmer } from './prewarm.ts'
import { buildRecord, internalFailure, type Outcome, type RanActivation, type StartKind } from './record.ts'
import { type Start, Starting } from './starting.ts'

export interface InvokerComponents {
  logger: Logger
  docker: Dockerode
  /** This agent's peer id: labels every container, so a restart finds a crashed run's leftovers. */
  nodeId: string
  clock: HybridClock
  systemMemoryMiB: () => Promise<number>
  /** Runtime image of a kind (default `fnagent/<kind>`, as `runtimes/build` names them). */
  imageFor?: (kind: string) => string
  /** Opens a function's sealed secret parameters and env, for its container only. */
  secrets?: {
    openFn(fn: FunctionRecord): { parameters: Record<string, unknown>; env: Record<string, string> }
  }
}

export interface InvokeRequest {
  fn: FunctionRecord
  /** Source bytes, or zip bytes when `fn.binary`; `null` for a blackbox image without code. */
  code: Buffer | null
  /** Already merged with `fn.parameters` by the caller. */
  params: Record<string, unknown>
  activationId: string
  /** The caller's bound (placement); the action's own `deadline` is its run's start + its timeout. */
  deadline?: number
  /** Given to the action as `api_key` (`__OW_API_KEY`) when the function has `provide-api-key`. */
  apiKey?: string
  /** The activation id of the composition this run is a component of (record `cause`, `causedBy`). */
  cause?: string
  signal?: AbortSignal
  transactionId?: string
  extraAnnotations?: KeyValue[]
  /** The activation's namespace when not the function's (RunRequest.namespace): its record's. */
  namespace?: string
}

export interface InvokerState {
  budgetMiB: number
  /** Budget not held by any container (busy, idle or prewarmed container). */
  budgetFreeMiB: number
  /**
   * 256 MiB activations that would fit now, counting idle containers as evictable, plus the free
   * slots of busy containers whose function runs several activations at once.
   */
  freeSlots: number
  inflight: number
  /** Warm containers (busy or idle) per `namespace/name@version`. */
  warm: Record<string, number>
  /**
   * Activation slots of those containers per `namespace/name@version`: each container counts its
   * function's concurrency (what this node gossips as its warm inventory: placement counts slots).
   */
  warmSlots: Record<string, number>
  /** Idle prewarmed containers per `kind@memory`. */
  prewarm: Record<string, number>
}

/**
 * Runs activations in Docker containers: warm reuse per function version, prewarmed containers per kind and
 * memory, a memory budget with LRU eviction of idle containers, and every limit of OpenWhisk.
 */
export class Invoker implements Startable {
  readonly #c: InvokerComponents
  readonly #o: InvokerOptions
  readonly #log: Logger
  readonly #pool: Pool
  readonly #images: ImageCache
  readonly #prewarmer: Prewarmer
  readonly #startingSlots = new Starting()
  readonly #listeners = new Set<() => void>()
  readonly #ranListeners = new Set<(ran: RanActivation) => void>()
  readonly #removals = new Set<Promise<void>>()
  #abort = new AbortController()
  #status: ServiceState = 'new'
  #budgetMiB = 0
  /** Memory promised to containers being created. */
  #reservedMiB = 0
  #inflight = 0
  #idleWaiters: (() => void)[] = []
  #notifyQueued = false
  #starting: Promise<void> | null = null
  #stopping: Promise<void> | null = null
  #bridge: FunctionsBridge | null = null
  /** The OpenWhisk API endpoint on the functions' bridge, when one listens (`__OW_API_HOST`). */
  #apiHost: string | null = null

  constructor(components: InvokerComponents, init: Partial<InvokerOptions> = {}) {
    this.#c = components
    this.#o = Object.freeze(invokerOptionsSchema.parse(init))
    this.#log = components.logger
    this.#pool = new Pool(
      {
        logger: this.#log,
        onChange: () => this.#changed(),
        onExpire: (c) => this.#discard(c, 'idle TTL or exited'),
      },
      { idleTtlMs: this.#o.idleTtlMs, pauseGraceMs: this.#o.pauseGraceMs },
    )
    this.#images = new ImageCache(components.docker, this.#o.dockerTimeoutMs)
    this.#prewarmer = new Prewarmer(
      {
        logger: this.#log,
        images: this.#images,
        imageFor: (kind) => this.#imageFor(kind),
        reserve: (mib) => this.#reserve(mib, false),
        unreserve: (mib) => {
          this.#reservedMiB -= mib
        },
        create: (spec) => this.#create(spec),
        discard: (c) => this.#discard(c, 'prewarmed container not ready'),
        signal: () => this.#abort.signal,
        readyTimeoutMs: 60_000,
        adopt: (c) => {
          this.#pool.add(c)
          this.#reservedMiB -= c.spec.memoryMiB
          this.#pool.release(c)
        },
        idleCount: (key) => this.#pool.inventory().prewarm[key] ?? 0,
        running: () => this.#status === 'running',
      },
      this.#o.prewarm,
    )
  }

  /** Ensures the network, removes this node's leftover containers, then fills the prewarm pool. */
  start(signal?: AbortSignal): Promise<void> {
    if (this.#status === 'running') return Promise.resolve()
    this.#starting ??= this.#start(signal).finally(() => {
      this.#starting = null
    })
    return this.#starting
  }

  async #start(signal?: AbortSignal): Promise<void> {
    this.#status = 'starting'
    this.#abort = new AbortController()
    const sig = signal ? AbortSignal.any([signal, this.#abort.signal]) : this.#abort.signal
    this.#budgetMiB = resolveBudgetMiB(this.#o, await this.#c.systemMemoryMiB())
    this.#bridge = await ensureNetwork(this.#c.docker, this.#o.network, {
      isolateHost: this.#o.isolateHost,
      timeoutMs: this.#o.dockerTimeoutMs,
      logger: this.#log,
      signal: sig,
    })
    const removed = await removeLeftovers(this.#c.docker, this.#c.nodeId, this.#o.dockerTimeoutMs, sig)
    if (removed > 0) this.#log.info({ count: removed }, 'removed containers left by a previous run')
    this.#status = 'running'
    this.#log.info({ budgetMiB: this.#budgetMiB, network: this.#o.network }, 'invoker started')
    await this.#prewarmer.fill()
  }

  /** The functions' bridge once started (where an endpoint for the containers can listen). */
  functionsBridge(): FunctionsBridge | null {
    return this.#bridge
  }

  /**
   * The URL every activation gets as `__OW_API_HOST` from now on (in the `/run` body, so warm and
   * prewarmed containers get it too), unless `invoker.apiHost` is configured; null: none.
   */
  useApiHost(url: string | null): void {
    this.#apiHost = url
  }

  /** Stops taking work, lets in-flight activations finish for up to `drainMs`, cancels the rest, removes every container. */
  stop(opts: { drainMs?: number } = {}): Promise<void> {
    if (this.#status === 'stopped' || this.#status === 'new') return Promise.resolve()
    this.#stopping ??= this.#stop(opts.drainMs ?? 0)
    return this.#stopping
  }

  async #stop(drainMs: number): Promise<void> {
    this.#status = 'stopping'
    if (this.#starting) {
      this.#abort.abort(errors.draining('the invoker is stopping'))
      await this.#starting.catch(() => {})
      this.#status = 'stopping'
    }
    if (this.#inflight > 0 && drainMs > 0) await this.#idleWithin(drainMs)
    this.#abort.abort(errors.draining('the invoker is stopping'))
    await this.#prewarmer.settled()
    // Cancelled activations end as soon as their engine calls return (each bounded by the engine
    // timeout); wait no longer than that, so a count that never comes down cannot hold the stop.
    if (this.#inflight > 0 && !(await this.#idleWithin(this.#o.dockerTimeoutMs))) {
      this.#log.warn(
        { inflight: this.#inflight },
        'activations still running after the cancel: removing their containers',
      )
    }
    for (const c of [...this.#pool.all]) this.#discard(c, 'stop')
    await Promise.allSettled([...this.#removals])
    // Anything created behind our back (a create that timed out in the engine) goes too.
    await removeLeftovers(this.#c.docker, this.#c.nodeId, this.#o.dockerTimeoutMs).catch((err: unknown) =>
      this.#log.warn({ err }, 'could not sweep containers at stop'),
    )
    this.#status = 'stopped'
    this.#stopping = null
    this.#log.info('invoker stopped')
  }

  /** Resolves true when no activation is in flight, false if `ms` passes first. */
  #idleWithin(ms: number): Promise<boolean> {
    if (this.#inflight === 0) return Promise.resolve(true)
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms)
      this.#idleWaiters.push(() => {
        clearTimeout(timer)
        resolve(true)
      })
    })
  }

  #openSecrets(fn: FunctionRecord) {
    if (!this.#c.secrets)
      throw errors.internal('this node has no secrets key to open the function secrets with')
    return this.#c.secrets.openFn(fn)
  }

  /** Runs one activation. Everything up to the first await is synchronous: capacity is taken at once. */
  async invoke(req: InvokeRequest): Promise<ActivationRecord> {
    const received = performance.now()
    if (this.#status !== 'running') {
      if (this.#status === 'new' || this.#status === 'starting')
        throw errors.unavailable('the invoker is not started')
      throw errors.draining('this node is draining and takes no new activations')
    }
    const { fn } = req
    // Secret parameters are opened here, on the node that runs the function, and go to the
    // container only; they sit over the invocation's (a caller cannot replace a secret).
    const secret = fn.secrets?.parameters ? this.#openSecrets(fn).parameters : null
    const paramsJson = JSON.stringify(secret ? { ...req.params, ...secret } : req.params)
    const size = Buffer.byteLength(paramsJson)
    if (size > this.#o.maxPayloadBytes) {
      throw errors.tooLarge(
        `The request content was too large: ${size} > ${this.#o.maxPayloadBytes} bytes (the parameters of ${fn.namespace}/${fn.name}).`,
      )
    }
    const key = warmKey(fn)
    const warm = this.#pool.takeWarm(key)
    if (warm) return this.#run(warm, 'warm', req, paramsJson, received, null)
    const joined = fn.limits.concurrency > 1 ? this.#startingSlots.join(key) : undefined
    if (joined) return this.#join(joined, req, paramsJson, received)
    const image = fn.kind === 'blackbox' ? fn.image : this.#imageFor(fn.kind)
    if (!image)
      throw errors.runtimeMissing(`${fn.namespace}/${fn.name} is a blackbox function without an image`)
    if (fn.kind !== 'blackbox') {
      const prewarmed = this.#pool.takePrewarm(prewarmKey(fn.kind, fn.limits.memory))
      if (prewarmed) {
        this.#prewarmer.refill()
        return this.#run(prewarmed, 'prewarmed', req, paramsJson, received, this.#begin(fn))
      }
    }
    // Cold: the reservation is taken synchronously so concurrent invocations cannot overcommit.
    this.#reserve(fn.limits.memory, true)
    return this.#cold(req, image, paramsJson, received, this.#begin(fn))
  }

  /** A start that later activations of `fn` may wait for (concurrency above 1), else null. */
  #begin(fn: FunctionRecord): Start | null {
    return fn.limits.concurrency > 1 ? this.#startingSlots.begin(warmKey(fn), fn.limits.concurrency) : null
  }

  /** Waits for a slot promised in a container being started; starts over when that start failed. */
  async #join(
    start: Start,
    req: InvokeRequest,
    paramsJson: string,
    received: number,
  ): Promise<ActivationRecord> {
    const c = await start.ready
    if (!c || c.state === 'gone') return this.invoke(req)
    return this.#run(c, 'warm', req, paramsJson, received, null)
  }

  async #cold(
    req: InvokeRequest,
    image: string,
    paramsJson: string,
    received: number,
    start: Start | null,
  ): Promise<ActivationRecord> {
    const { fn } = req
    const mib = fn.limits.memory
    let c: FnContainer
    this.#inflight++
    try {
      if (!(await this.#images.has(image))) {
        throw errors.runtimeMissing(
          fn.kind === 'blackbox'
            ? `image ${image} is not present on this node`
            : `the ${fn.kind} runtime image ${image} is not built on this node`,
          { details: { image, kind: fn.kind } },
        )
      }
      c = await this.#create({
        image,
        kind: fn.kind,
        memoryMiB: mib,
        blackbox: fn.kind === 'blackbox',
        user: containerUser(fn),
        role: 'warm',
        fn: { namespace: fn.namespace, name: fn.name, version: fn.version },
      })
    } catch (err) {
      this.#reservedMiB -= mib
      start?.settle(null)
      this.#done()
      if (err instanceof FnError && err.code === 'RUNTIME_MISSING') throw err
      this.#log.error({ err, fn: `${fn.namespace}/${fn.name}`, image }, 'could not start a container')
      this.#images.forget(image)
      return this.#record(
        req,
        internalFailure(
          `Failed to start a container for the action: ${(err as Error).message}`,
          'cold',
          received,
        ),
      )
    }
    this.#pool.add(c)
    this.#reservedMiB -= mib
    this.#inflight--
    return this.#run(c, 'cold', req, paramsJson, received, start)
  }

  async #run(
    c: FnContainer,
    startKind: StartKind,
    req: InvokeRequest,
    paramsJson: string,
    received: number,
    start: Start | null,
  ): Promise<ActivationRecord> {
    this.#inflight++
    try {
      if (c.pausing) await c.resume()
      const waitTime = Math.round(performance.now() - received)
      // Secret env goes to `/init` only (a warm container was initialised with it already).
      const fn =
        startKind !== 'warm' && req.fn.secrets?.env
          ? { ...req.fn, env: { ...req.fn.env, ...this.#openSecrets(req.fn).env } }
          : req.fn
      // One line per run: how tests (and operators) count runs of an activation id.
      this.#log.debug({ activationId: req.activationId, container: startKind }, 'activation runs')
      const signal = req.signal ? AbortSignal.any([req.signal, this.#abort.signal]) : this.#abort.signal
      const out = await activate(
        c,
        {
          fn,
          code: req.code,
          paramsJson,
          activationId: req.activationId,
          transactionId: req.transactionId ?? req.activationId,
          ...(req.apiKey ? { apiKey: req.apiKey } : {}),
          // A configured invoker.apiHost (a proxy the operator chose) wins over the bridge endpoint.
          ...((this.#o.apiHost ?? this.#apiHost) ? { apiHost: this.#o.apiHost ?? this.#apiHost! } : {}),
          needsInit: startKind !== 'warm',
          onInit: () => {
            c.serve(fn.limits.concurrency)
            // The slots promised while it started are taken before the rest are offered.
            if (start) {
              c.inflight += start.promised - 1
              start.settle(c)
            }
            this.#pool.offer(c)
          },
          signal,
        },
        { options: this.#o, logger: this.#log },
      )
      if (!out.reusable || this.#status !== 'running') this.#pool.retire(c)
      if (this.#pool.release(c)) this.#discard(c, 'not reusable')
      return this.#record(req, { ...out, startKind, waitTime })
    } catch (err) {
      // Only Docker failures (unpause) get here: function failures are outcomes.
      this.#discard(c, 'failed')
      this.#log.error({ err, container: c.name }, 'activation failed in the invoker')
      return this.#record(req, internalFailure((err as Error).message, startKind, received))
    } finally {
      start?.settle(null)
      this.#done()
    }
  }

  /**
   * A warm container of exactly this version has a free slot: idle, or running fewer activations
   * than its function's concurrency (placement's "warm" candidates check it).
   */
  hasIdleWarm(fn: FunctionRecord): boolean {
    return this.#status === 'running' && this.#pool.hasWarm(warmKey(fn))
  }

  /** Whether an activation of `fn` would start now (warm, prewarmed container, or budget after evicting idle ones). */
  canAccept(fn: FunctionRecord): boolean {
    if (this.#status !== 'running') return false
    if (this.#pool.hasWarm(warmKey(fn))) return true
    if (fn.kind !== 'blackbox' && this.#pool.hasPrewarm(prewarmKey(fn.kind, fn.limits.memory))) return true
    return this.#budgetMiB - this.#pool.busyMiB() - this.#reservedMiB >= fn.limits.memory
  }

  /**
   * Whether `fn` would start without evicting another function's idle container: a prewarmed container of
   * its kind and memory, or budget no container holds (placement's home and load nodes take cold
   * work only then; refusal.ts).
   */
  fitsWithoutEviction(fn: FunctionRecord): boolean {
    const st = this.state()
    return (
      (st.prewarm[prewarmKey(fn.kind, fn.limits.memory)] ?? 0) > 0 || st.budgetFreeMiB >= fn.limits.memory
    )
  }

  /**
   * Activations of `fn` that could start now: the budget not held by running ones (idle ones
   * evicted), plus the free slots of its busy containers.
   */
  freeSlots(fn: FunctionRecord): number {
    if (this.#status !== 'running') return 0
    const reclaimable = this.#budgetMiB - this.#pool.busyMiB() - this.#reservedMiB
    return Math.max(0, Math.floor(reclaimable / fn.limits.memory)) + this.#pool.spareSlots(warmKey(fn))
  }

  state(): InvokerState {
    const used = this.#pool.usedMiB() + this.#reservedMiB
    const reclaimable = this.#budgetMiB - this.#pool.busyMiB() - this.#reservedMiB
    return {
      budgetMiB: this.#budgetMiB,
      budgetFreeMiB: Math.max(0, this.#budgetMiB - used),
      freeSlots: Math.max(0, Math.floor(reclaimable / 256)) + this.#pool.spareSlots(),
      inflight: this.#inflight,
      ...this.#pool.inventory(),
    }
  }

  /** Called with each activation this node ran, as its record is built (metrics, the log tail). */
  onActivation(listener: (ran: RanActivation) => void): () => void {
    this.#ranListeners.add(listener)
    return () => this.#ranListeners.delete(listener)
  }

  onStateChange(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #imageFor(kind: string): string {
    return this.#c.imageFor?.(kind) ?? `fnagent/${kind}`
  }

  /**
   * Takes `mib` of the budget, evicting idle containers least recently used first when `evict`;
   * throws NODE_FULL when it cannot.
   */
  #reserve(mib: number, evict: boolean): void {
    const free = this.#budgetMiB - this.#pool.usedMiB() - this.#reservedMiB
    const victims = evict ? pickEvictions(this.#evictable(), mib, free) : free >= mib ? [] : null
    if (!victims) {
      const inUse = this.#pool.busyMiB() + this.#reservedMiB
      throw errors.nodeFull(
        `node full: ${mib} MiB needed, ${inUse} MiB of the ${this.#budgetMiB} MiB function memory budget in use by running activations`,
        { details: { budgetMiB: this.#budgetMiB, inUseMiB: inUse, neededMiB: mib } },
      )
    }
    for (const v of victims) this.#discard(v.c, 'evicted')
    this.#reservedMiB += mib
  }

  #evictable() {
    return this.#pool
      .idle()
      .map((c) => ({ c, memoryMiB: c.spec.memoryMiB, lastUsed: c.lastUsed, prewarm: c.key === null }))
  }

  #create(spec: ContainerSpec): Promise<FnContainer> {
    return FnContainer.create(
      { docker: this.#c.docker, logger: this.#log, nodeId: this.#c.nodeId, options: this.#o },
      spec,
      this.#abort.signal,
    )
  }

  /** Forgets a container and removes it from Docker in the background (stop() waits for it). */
  #discard(c: FnContainer, why: string): void {
    this.#pool.drop(c)
    const p = c
      .remove()
      .catch((err: unknown) => this.#log.warn({ err, container: c.name, why }, 'could not remove container'))
      .finally(() => this.#removals.delete(p))
    this.#removals.add(p)
  }

  #record(req: InvokeRequest, out: Outcome): ActivationRecord {
    const record = buildRecord(req, out, { nodeId: this.#c.nodeId, hlc: this.#c.clock.now() })
    if (this.#ranListeners.size > 0) {
      const ran: RanActivation = { record, start: out.startKind, waitMs: out.waitTime, initMs: out.initTime }
      for (const l of this.#ranListeners) {
        try {
          l(ran)
        } catch (err) {
          this.#log.warn({ err }, 'activation listener failed')
        }
      }
    }
    return record
  }

  #done(): void {
    this.#inflight--
    if (this.#inflight === 0) {
      const waiters = this.#idleWaiters
      this.#idleWaiters = []
      for (const w of waiters) w()
    }
  }

  /** Coalesces inventory changes into one notification per tick. */
  #changed(): void {
    if (this.#notifyQueued) return
    this.#notifyQueued = true
    queueMicrotask(() => {
      this.#notifyQueued = false
      for (const l of this.#listeners) {
        try {
          l()
        } catch (err) {
          this.#log.warn({ err }, 'state listener failed')
        }
      }
    })
  }
}
