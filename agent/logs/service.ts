import {
  type RpcChannels as Channels,
  RpcChannels,
  type RpcDialer,
  type RpcServer,
  serveChannel,
} from '../cluster/index.ts'
import type { Startable } from '../lifecycle.ts'
import type { Logger } from '../log.ts'
import type { ActivationRecord } from '../store/types.ts'
import {
  LOG_TAIL_PROTOCOLS,
  type TailAnswer,
  type TailEntry,
  tailAnswerSchema,
  tailPollSchema,
} from './messages.ts'
import type { LogTailOptions } from './options.ts'
import { LogTail } from './tail.ts'

/** The cluster as the log tail sees it (absent when the agent runs alone). */
export interface LogTailCluster extends RpcDialer, RpcServer {
  view(): Array<{ peerId: string; state: string }>
}

export interface LogTailComponents {
  logger: Logger
  nodeId: string
  cluster: LogTailCluster | null
}

/** What a follower is told: entries, activations of a node it skipped (the rate bound), and nodes it now follows. */
export type FollowEvent =
  | { type: 'entry'; entry: TailEntry }
  | { type: 'missed'; node: string; count: number }
  /** The first answer of a node came: its activations from now on are followed. */
  | { type: 'following'; node: string }

/** How long entries wait to be put in time order before they are emitted, ms. */
const REORDER_MS = 200
/** Member list re-read for new nodes to follow, ms. */
const MEMBERS_EVERY_MS = 1000

/**
 * The cluster-wide log tail: each node keeps its last finished activations' log lines (LogTail);
 * a follower on any node long-polls every alive member over a cluster channel (and its own tail
 * directly), each node's answers bounded in bytes and in bytes per second, and emits the entries
 * merged in the order the activations ended.
 */
export class ActivationLogs implements Startable {
  readonly #c: LogTailComponents
  readonly #o: LogTailOptions
  readonly #tail: LogTail
  readonly #channels: Channels | null
  #abort = new AbortController()

  constructor(components: LogTailComponents, init: LogTailOptions) {
    this.#c = components
    this.#o = init
    this.#tail = new LogTail(init)
    this.#channels = components.cluster
      ? new RpcChannels(components.cluster, LOG_TAIL_PROTOCOLS, { maxBytes: init.maxAnswerBytes * 2 })
      : null
  }

  async start(): Promise<void> {
    this.#abort = new AbortController()
    const cluster = this.#c.cluster
    if (!cluster) return
    await serveChannel(
      cluster,
      LOG_TAIL_PROTOCOLS,
      async (body, _from, signal) => {
        const poll = tailPollSchema.parse(body)
        return this.#poll(poll.after, poll.fn, Math.min(poll.waitMs, this.#o.pollWaitMs), signal)
      },
      {
        maxBytes: this.#o.maxAnswerBytes * 2,
        timeoutMs: this.#o.pollWaitMs + 5000,
        maxInflight: 32,
        onBusy: () => ({ busy: true }),
        logger: this.#c.logger,
      },
    )
  }

  async stop(): Promise<void> {
    this.#abort.abort(new Error('the agent is stopping'))
    this.#channels?.closeAll()
  }

  /** An activation this node ran (the invoker's hook). */
  ran(record: ActivationRecord): void {
    this.#tail.add(record)
  }

  async #poll(
    after: number,
    fn: string | undefined,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<TailAnswer> {
    const stop = AbortSignal.any([signal, this.#abort.signal])
    if (after >= 0) await this.#tail.wait(after, waitMs, stop)
    return this.#tail.read(after, fn, this.#o.maxAnswerBytes)
  }

  /**
   * The log lines of the last `limit` activations that printed something, of every alive node
   * (each asked for its last `limit`, of `fn` if given, within one answer's bytes), merged in the
   * order they ended. A node that does not answer in time is left out.
   */
  async recent(q: { fn?: string | undefined; limit: number }, signal: AbortSignal): Promise<TailEntry[]> {
    const stop = AbortSignal.any([signal, this.#abort.signal])
    const peers = this.#c.cluster
      ? this.#c.cluster
          .view()
          .filter((m) => m.state === 'alive' && m.peerId !== this.#c.nodeId)
          .map((m) => m.peerId)
      : []
    const ask = async (after: number): Promise<TailAnswer> =>
      this.#tail.read(after, q.fn, this.#o.maxAnswerBytes)
    const askPeer = async (peer: string, after: number): Promise<TailAnswer> =>
      tailAnswerSchema.parse(
        await this.#channels!.request(peer, { v: 1, after, ...(q.fn ? { fn: q.fn } : {}), waitMs: 0 }, stop),
      )
    // A node's last entries: where its tail is (after -1 answers that at once), then those after `last - limit`.
    const lastOf = async (read: (after: number) => Promise<TailAnswer>) => {
      const { next } = await read(-1)
      return (await read(Math.max(0, next - q.limit))).entries
    }
    const all = await Promise.all([
      lastOf(ask),
      ...peers.map((peer) =>
        lastOf((after) => askPeer(peer, after)).catch((err: unknown) => {
          this.#c.logger.debug({ err, peer }, 'recent logs: a node did not answer')
          return []
        }),
      ),
    ])
    return all
      .flat()
      .sort((a, b) => a.end - b.end || a.seq - b.seq)
      .slice(-q.limit)
  }

  /** Emits the log lines of every activation that finishes on any node until `signal` aborts. */
  async follow(
    q: { fn?: string | undefined },
    signal: AbortSignal,
    emit: (e: FollowEvent) => void,
  ): Promise<void> {
    const stop = AbortSignal.any([signal, this.#abort.signal])
    const pending: Array<{ at: number; entry: TailEntry }> = []
    const flush = (all: boolean) => {
      const now = performance.now()
      const ready = pending.filter((p) => all || now - p.at >= REORDER_MS)
      if (ready.length === 0) return
      pending.splice(0, pending.length, ...pending.filter((p) => !ready.includes(p)))
      ready.sort((a, b) => a.entry.end - b.entry.end || a.entry.seq - b.entry.seq)
      for (const r of ready) emit({ type: 'entry', entry: r.entry })
    }
    const loops = new Map<string, Promise<void>>()
    const ensure = () => {
      const peers = this.#c.cluster
        ? this.#c.cluster
            .view()
            .filter((m) => m.state === 'alive')
            .map((m) => m.peerId)
        : [this.#c.nodeId]
      if (!peers.includes(this.#c.nodeId)) peers.push(this.#c.nodeId)
      for (const peer of peers) {
        if (loops.has(peer)) continue
        const loop = this.#followNode(
          peer,
          q.fn,
          stop,
          (entry) => pending.push({ at: performance.now(), entry }),
          emit,
        )
          .catch((err: unknown) => this.#c.logger.debug({ err, peer }, 'log tail of a node ended'))
          .finally(() => loops.delete(peer))
        loops.set(peer, loop)
      }
    }
    ensure()
    const members = setInterval(ensure, MEMBERS_EVERY_MS)
    const reorder = setInterval(() => flush(false), REORDER_MS / 4)
    try {
      await new Promise<void>((resolve) => {
        if (stop.aborted) resolve()
        else stop.addEventListener('abort', () => resolve(), { once: true })
      })
    } finally {
      clearInterval(members)
      clearInterval(reorder)
      await Promise.allSettled(loops.values())
      flush(true)
    }
  }

  /** Long-polls one node until `signal` aborts or the node is no longer alive. */
  async #followNode(
    peer: string,
    fn: string | undefined,
    signal: AbortSignal,
    got: (e: TailEntry) => void,
    emit: (e: FollowEvent) => void,
  ): Promise<void> {
    const self = peer === this.#c.nodeId
    let after = -1
    while (!signal.aborted) {
      const t0 = performance.now()
      let answer: TailAnswer
      let bytes = 0
      if (self) {
        answer = await this.#poll(after, fn, this.#o.pollWaitMs, signal)
        bytes = JSON.stringify(answer).length
      } else {
        const sizes = { out: 0, in: 0 }
        try {
          const body = await this.#channels!.request(
            peer,
            { v: 1, after, ...(fn ? { fn } : {}), waitMs: this.#o.pollWaitMs },
            AbortSignal.any([signal, AbortSignal.timeout(this.#o.pollWaitMs + 10_000)]),
            sizes,
          )
          answer = tailAnswerSchema.parse(body)
          bytes = sizes.in
        } catch (err) {
          if (signal.aborted) return
          const member = this.#c.cluster?.view().find((m) => m.peerId === peer)
          if (member?.state !== 'alive') return
          this.#c.logger.debug({ err, peer }, 'log tail poll failed; retrying')
          await sleep(1000, signal)
          continue
        }
      }
      if (signal.aborted) return
      if (after < 0) emit({ type: 'following', node: peer })
      if (answer.missed > 0 && after >= 0) emit({ type: 'missed', node: peer, count: answer.missed })
      for (const e of answer.entries) got(e)
      after = answer.next
      // The rate bound: an answer of `bytes` is followed by the time it is worth at bytesPerSecond.
      const owed = (bytes / this.#o.bytesPerSecond) * 1000 - (performance.now() - t0)
      if (owed > 0) await sleep(owed, signal)
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
