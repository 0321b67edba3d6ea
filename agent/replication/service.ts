import type { Startable } from '../lifecycle.ts'
import type { Logger } from '../log.ts'
import type { HybridClock } from '../store/hlc.ts'
import type {
  ActivationQuery,
  ActivationRecord,
  ApiKeyRecord,
  EventRecord,
  FunctionRecord,
  NamespaceRecord,
  PackageRecord,
  Store,
} from '../store/index.ts'
import { ActivationSet } from './activation-set.ts'
import { BlobReplication } from './blobs.ts'
import { waitCopies } from './copies.ts'
import { type SyncContext, type SyncSet, syncWith } from './digest-sync.ts'
import { FunctionSet } from './function-set.ts'
import { ReplicationHandlers } from './handlers.ts'
import { Handoff } from './handoff.ts'
import type { Request } from './messages.ts'
import { type ReplicationOptions, replicationOptionsSchema } from './options.ts'
import { liveMembers, Ownership } from './owners.ts'
import { CatchUp } from './ownership-catchup.ts'
import { Pusher } from './push.ts'
import { ClusterQuery } from './query.ts'
import { AntiEntropyLoop } from './repair-loop.ts'
import { Retention } from './retention.ts'
import { ReplicationStats } from './stats.ts'
import { activationSync, functionSync } from './sync-sets.ts'
import { eventSource, keySource, namespaceSource, packageSource, TableSet, tableSync } from './table-set.ts'
import { Dropped, type ReplicationCluster, Wire } from './wire.ts'

export interface ReplicationComponents {
  logger: Logger
  store: Store
  clock: HybridClock
  /** Absent when the agent runs alone: every call then answers from this node only. */
  cluster: ReplicationCluster | null
  nodeId: string
}

export interface ReplicationStatus {
  /**
   * Local writes still being pushed, activation records held here but not yet confirmed on all
   * their owners (handoff), and owned code blobs missing here.
   */
  underReplicated: number
  lastRepair: number | null
  repairs: number
  dropped: Record<string, number>
  bytesOut: number
  bytesIn: number
  /** Peers this node still has catch-up work with (after a membership change). */
  catchingUp: number
}

const MiB = 1024 * 1024

export class Replication implements Startable {
  readonly #c: ReplicationComponents
  readonly #o: ReplicationOptions
  readonly #log: Logger
  readonly #stats = new ReplicationStats()
  readonly #fnSet: FunctionSet
  readonly #actSet: ActivationSet
  readonly #keySet: TableSet<ApiKeyRecord>
  readonly #pkgSet: TableSet<PackageRecord>
  readonly #evtSet: TableSet<EventRecord>
  readonly #nsSet: TableSet<NamespaceRecord>
  readonly #handoff: Handoff
  readonly #retention: Retention
  readonly #sets
  #wire: Wire | null = null
  #blobs: BlobReplication | null = null
  #query: ClusterQuery | null = null
  #pusher: Pusher | null = null
  #loop: AntiEntropyLoop | null = null
  #catchUp: CatchUp | null = null
  #own: Ownership
  #controller: AbortController | null = null
  #unsubscribe: (() => void) | null = null
  #viewTimer: NodeJS.Timeout | null = null
  #served = false
  #lastRetention = 0
  /** Local writes whose pushes have not all settled yet. */
  #inflight = 0

  constructor(components: ReplicationComponents, init: Partial<ReplicationOptions> = {}) {
    this.#c = components
    this.#o = Object.freeze(replicationOptionsSchema.parse(init))
    this.#log = components.logger
    this.#fnSet = new FunctionSet(components.store, () => this.#o.tombstoneGraceMs, components.clock)
    this.#actSet = new ActivationSet(components.store, {
      floor: () => this.#retention.floor(),
      clock: components.clock,
    })
    this.#retention = new Retention(
      { logger: this.#log, store: components.store, actSet: this.#actSet, fnSet: this.#fnSet },
      this.#o,
    )
    this.#handoff = new Handoff(components.store.db)
    this.#keySet = new TableSet(keySource(components.store), components.clock)
    this.#pkgSet = new TableSet(packageSource(components.store), components.clock)
    this.#nsSet = new TableSet(namespaceSource(components.store), components.clock)
    this.#evtSet = new TableSet(eventSource(components.store), components.clock)
    this.#sets = {
      fn: functionSync(this.#fnSet, this.#stats),
      act: activationSync(this.#actSet, this.#stats, () => this.#own),
      key: tableSync(this.#keySet, this.#stats, 'keys'),
      pkg: tableSync(this.#pkgSet, this.#stats, 'packages'),
      ns: tableSync(this.#nsSet, this.#stats, 'namespaces'),
      evt: tableSync(this.#evtSet, this.#stats, 'events'),
    }
    this.#own = new Ownership(this.#c.nodeId, [], this.#o.replicas)
  }

  get ownership(): Ownership {
    return this.#own
  }

  async start(): Promise<void> {
    if (this.#controller) return
    const controller = new AbortController()
    this.#controller = controller
    await this.#handoff.load()
    this.#actSet.table().catch((err: unknown) => this.#log.error({ err }, 'activation digest build failed'))
    const { cluster, clock } = this.#c
    this.#own = new Ownership(this.#c.nodeId, [], this.#o.replicas)
    if (!cluster) return
    const now = () => clock.now()
    const wire = new Wire(cluster, clock, this.#stats, this.#o.maxMessageBytes, this.#log)
    this.#wire = wire
    const deps = { logger: this.#log, store: this.#c.store, wire, now, timeoutMs: this.#o.requestTimeoutMs }
    this.#blobs = new BlobReplication({
      ...deps,
      stats: this.#stats,
      fnSet: this.#fnSet,
      ownership: () => this.#own,
    })
    this.#query = new ClusterQuery({ ...deps, ownership: () => this.#own })
    this.#pusher = new Pusher(
      wire,
      now,
      { maxBatchBytes: MiB, maxQueueBytes: 64 * MiB, timeoutMs: this.#o.requestTimeoutMs },
      controller.signal,
    )
    this.#catchUp = new CatchUp()
    this.#loop = new AntiEntropyLoop((signal) => this.#round(signal), this.#o.antiEntropyMs, this.#log)
    if (!this.#served) {
      this.#served = true
      const handlers = new ReplicationHandlers({
        store: this.#c.store,
        stats: this.#stats,
        fnSet: this.#fnSet,
        actSet: this.#actSet,
        keySet: this.#keySet,
        pkgSet: this.#pkgSet,
        nsSet: this.#nsSet,
        evtSet: this.#evtSet,
        sets: this.#sets,
        maxMessageBytes: this.#o.maxMessageBytes,
      })
      await wire.serve((req, from) => this.#handle(handlers, req, from), this.#o.requestTimeoutMs)
    }
    this.#unsubscribe = cluster.onChange(() => {
      this.#viewTimer ??= setTimeout(() => {
        this.#viewTimer = null
        this.#checkView()
      }, 100)
    })
    this.#checkView()
    this.#loop.start()
  }

  async stop(): Promise<void> {
    const controller = this.#controller
    if (!controller) return
    this.#controller = null
    controller.abort()
    this.#unsubscribe?.()
    this.#unsubscribe = null
    if (this.#viewTimer) clearTimeout(this.#viewTimer)
    this.#viewTimer = null
    await this.#loop?.stop()
    this.#wire?.close()
  }

  /** After a local create, update or delete: metadata to every live peer, code to the blob's owners. */
  async functionWritten(
    record: FunctionRecord,
    code: Uint8Array | null,
    waitReplicas?: number,
  ): Promise<{ copies: number }> {
    this.#fnSet.changed()
    const pusher = this.#pusher
    if (!pusher) return { copies: 1 }
    const own = this.#own
    const owners = record.codeHash ? own.blobOwners(record.codeHash) : []
    const withCode = !!(record.codeHash && code)
    const b64 = withCode ? Buffer.from(code!).toString('base64') : undefined
    const pushes = own.members
      .filter((p) => p !== own.self)
      .map((p) => {
        const owner = owners.includes(p)
        const entry = owner && b64 ? { record, code: b64 } : { record }
        return pusher.send(p, { fn: entry }).then((held) => held && (!withCode || owner))
      })
    this.#track(pushes)
    return { copies: await waitCopies(pushes, waitReplicas, this.#o.requestTimeoutMs) }
  }

  /** After a local create or revocation of an API key: to every live peer (anti-entropy repairs the rest). */
  keyWritten(record: ApiKeyRecord): void {
    this.#keySet.changed()
    this.#toAll({ key: record })
  }

  /** After a local create, update or delete of a package: to every live peer. */
  packageWritten(record: PackageRecord): void {
    this.#pkgSet.changed()
    this.#toAll({ pkg: record })
  }

  /** After a local change of a namespace's settings (its limits): to every live peer. */
  namespaceWritten(record: NamespaceRecord): void {
    this.#nsSet.changed()
    this.#toAll({ ns: record })
  }

  /** After a local create, update or delete of a trigger or rule: to every live peer. */
  eventWritten(record: EventRecord): void {
    this.#evtSet.changed()
    this.#toAll({ evt: record })
  }

  #toAll(
    item: { key: ApiKeyRecord } | { pkg: PackageRecord } | { ns: NamespaceRecord } | { evt: EventRecord },
  ): void {
    const pusher = this.#pusher
    if (!pusher) return
    const own = this.#own
    this.#track(own.members.filter((p) => p !== own.self).map((p) => pusher.send(p, item)))
  }

  #track(pushes: Promise<boolean>[]): void {
    if (pushes.length === 0) return
    this.#inflight++
    void Promise.allSettled(pushes).then(() => this.#inflight--)
  }

  /** After a record is stored here (ran here or received here): to its owners. */
  async activationStored(
    record: ActivationRecord,
    waitReplicas = this.#o.waitReplicas,
    /** Owners that already hold it (the node that received a forwarded invocation got it in the answer). */
    holders: readonly string[] = [],
  ): Promise<{ copies: number }> {
    this.#actSet.changed(record.activationId)
    const pusher = this.#pusher
    if (!pusher) return { copies: 1 }
    const owners = this.#own.activationOwners(record.activationId)
    const self = this.#own.self
    const id = record.activationId
    // Held here without owning it: persisted as handoff work before the push, so a crash before the
    // owners confirm still hands it off after the restart.
    const handoff = !owners.includes(self)
    if (handoff) await this.#handoff.add(id)
    const pushes = owners
      .filter((p) => p !== self && !holders.includes(p))
      .map((p) => pusher.send(p, { act: record }))
    this.#track(pushes)
    if (handoff) {
      Promise.all(pushes)
        .then((acks) => (acks.every(Boolean) ? this.#handoff.remove([id]) : undefined))
        .catch((err: unknown) => this.#log.warn({ err }, 'handoff bookkeeping failed'))
    }
    return { copies: await waitCopies(pushes, Math.max(waitReplicas, 1), this.#o.requestTimeoutMs) }
  }

  /** A record was stored here that another node pushes to its owners: only the digest changes. */
  activationChanged(activationId: string): void {
    this.#actSet.changed(activationId)
  }

  /** A record from here, else from its owners or any live peer; null when nobody has it. */
  async fetchActivation(id: string, signal: AbortSignal): Promise<ActivationRecord | null> {
    if (this.#query) return this.#query.fetchActivation(id, signal)
    return this.#c.store.activations.get(id)
  }

  /** `activation list` over the whole cluster, one record per id, newest first. */
  async listCluster(query: ActivationQuery = {}, signal: AbortSignal = AbortSignal.timeout(30_000)) {
    if (this.#query) return this.#query.listCluster(query, signal)
    return this.#c.store.activations.list(query)
  }

  /** The code of a version from here or from a peer (kept here afterwards); null when it has none. */
  async code(record: FunctionRecord, signal: AbortSignal): Promise<Buffer | null> {
    if (this.#blobs) return this.#blobs.code(record, signal)
    return record.codeHash ? this.#c.store.blobs.get(record.codeHash) : null
  }

  status(): ReplicationStatus {
    const s = this.#stats
    return {
      underReplicated: this.#inflight + this.#handoff.size + (this.#blobs?.missing ?? 0),
      lastRepair: s.lastRepair,
      repairs: s.repairs,
      dropped: { ...s.dropped },
      bytesOut: s.bytesOut,
      bytesIn: s.bytesIn,
      catchingUp: this.#catchUp?.size ?? 0,
    }
  }

  /** Root hashes of the function metadata and of every activation record held here. */
  async digests(): Promise<{ functions: string; activations: string }> {
    return { functions: (await this.#fnSet.table()).root(), activations: (await this.#actSet.table()).root() }
  }

  /** Runs retention now (it also runs on its own every `retentionEveryMs`). */
  retention() {
    return this.#retention.run()
  }

  #handle(handlers: ReplicationHandlers, req: Request, from: string): Promise<unknown> {
    if (!this.#controller) throw new Dropped('stopped', 'replication is stopped on this node')
    switch (req.type) {
      case 'push':
        return handlers.push(req)
      case 'tree':
        return handlers.tree(req, from)
      case 'entries':
        return handlers.entries(req)
      case 'get':
        return handlers.get(req)
      case 'blob':
        return handlers.blob(req)
      case 'activation':
        return handlers.activation(req)
      case 'list':
        return handlers.list(req)
    }
  }

  /** The live set changed: new owners, and catch-up work for what this node now owns. */
  #checkView(): void {
    const cluster = this.#c.cluster
    if (!cluster || !this.#controller) return
    const next = new Ownership(this.#c.nodeId, liveMembers(cluster.view()), this.#o.replicas)
    if (next.key === this.#own.key) return
    const prev = this.#own
    this.#own = next
    this.#catchUp?.plan(prev, next)
    this.#log.info(
      { members: next.members.length, catchUp: this.#catchUp?.size },
      'replication owners changed',
    )
    this.#loop?.kick()
  }

  /** One anti-entropy round: catch-up, handoff, a digest exchange with a random peer, blobs, retention. */
  async #round(signal: AbortSignal): Promise<boolean> {
    const wire = this.#wire!
    const ctx: SyncContext = {
      wire,
      now: () => this.#c.clock.now(),
      signal,
      timeoutMs: this.#o.requestTimeoutMs,
      maxChunkBytes: Math.min(MiB, this.#o.maxMessageBytes / 4),
    }
    let budget = this.#o.maxRepairBytesPerRound
    let more = false
    const own = this.#own
    const catchUp = await this.#catchUp!.step(ctx, own, this.#sets, budget, this.#log)
    budget -= catchUp.bytes
    more ||= catchUp.more
    this.#stats.repaired(catchUp.moved)

    this.#stats.repaired(await this.#retryHandoff())

    const peers = own.members.filter((p) => p !== own.self)
    const peer = peers[Math.floor(Math.random() * peers.length)]
    if (peer && budget > 0) {
      try {
        const fn = await syncWith(ctx, peer, this.#sets.fn, { pull: true, push: true, budget })
        for (const set of [
          this.#sets.key,
          this.#sets.pkg,
          this.#sets.ns,
          this.#sets.evt,
        ] as SyncSet<unknown>[]) {
          const t = await syncWith(ctx, peer, set, { pull: true, push: true, budget })
          fn.bytes += t.bytes
          fn.moved += t.moved
          fn.more ||= t.more
        }
        const act = await syncWith(ctx, peer, this.#sets.act, {
          pull: true,
          push: true,
          budget: budget - fn.bytes,
        })
        budget -= fn.bytes + act.bytes
        more ||= fn.more || act.more
        this.#stats.repaired(fn.moved + act.moved)
      } catch (err) {
        if (!signal.aborted) this.#log.debug({ err, peer }, 'anti-entropy with a peer failed')
      }
    }
    const blobs = await this.#blobs!.repair(Math.max(budget, 1), signal)
    more ||= blobs.more
    if (Date.now() - this.#lastRetention >= this.#o.retentionEveryMs) {
      this.#lastRetention = Date.now()
      await this.#retention.run()
    }
    return more
  }

  /** Pushes held records this node does not own to their owners until they all confirm. */
  async #retryHandoff(): Promise<number> {
    const ids = this.#handoff.take(256)
    if (ids.length === 0) return 0
    const own = this.#own
    const done: string[] = []
    let moved = 0
    await Promise.all(
      ids.map(async (id) => {
        const record = await this.#c.store.activations.get(id)
        const owners = own.activationOwners(id)
        if (!record || owners.includes(own.self)) return void done.push(id)
        const acks = await Promise.all(owners.map((p) => this.#pusher!.send(p, { act: record })))
        moved += acks.filter(Boolean).length
        if (acks.every(Boolean)) done.push(id)
      }),
    )
    await this.#handoff.remove(done)
    return moved
  }
}
