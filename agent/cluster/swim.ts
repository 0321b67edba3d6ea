import { createHash } from 'node:crypto'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { z } from 'zod'
import type { Logger } from '../log.ts'
import type { RpcChannels } from './channel.ts'
import type { Member, MemberRecord, Membership } from './membership.ts'
import { deltaSchema, fullSchema } from './messages.ts'
import type { GossipStats } from './validate.ts'

/** Probes and push-pull, on one long-lived channel per peer (channel.ts). */
export const SWIM_PROTOCOL = '/fnagent/swim/1.0.0'

const peer = z.string().min(1).max(128)
/** `[peerId, stateSeq, dead ? 1 : 0]` for every member not left, the sender included. */
const digestSchema = z
  .array(z.tuple([peer, z.number().int().min(0), z.number().int().min(0).max(1)]))
  .max(100_000)
const recordSchema = z.object({ full: fullSchema, delta: deltaSchema.optional() }).strict()
const requestSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('ping') }).strict(),
  z.object({ t: z.literal('ping-req'), target: peer }).strict(),
  z
    .object({
      t: z.literal('sync'),
      hash: z.string().max(64),
      digest: digestSchema.optional(),
      records: z.array(recordSchema).max(100_000).optional(),
    })
    .strict(),
])
type Request = z.infer<typeof requestSchema>
type Digest = z.infer<typeof digestSchema>
const pingAnswer = z.object({ ok: z.boolean() })
const syncAnswer = z.object({
  same: z.boolean().optional(),
  digest: digestSchema.optional(),
  records: z.array(recordSchema).max(100_000).optional(),
})

export interface SwimComponents {
  logger: Logger
  membership: Membership
  channels: RpcChannels
  stats: GossipStats
  selfId: string
  /** This node's own record. */
  selfRecord: () => MemberRecord
  isConnected: (peerId: string) => boolean
  /** A member's state changed (probe answered or not, record merged); `accused`: our own probe failed it. */
  changed: (m: Member, accused: boolean) => void
  /** A peer thinks this node dead: publish something newer. */
  refute: () => void
}

export interface SwimInit {
  /** One probe of one member per period. */
  heartbeatMs: number
  probeTimeoutMs: number
  /** Members asked to probe a target that did not answer us. */
  indirectProbes: number
  /** Push-pull with one random member this often. */
  syncMs: number
}

/** Highest local health multiplier (Lifeguard's default). */
const MAX_HEALTH = 8
/** Rounds between two probes of a dead member (a healed partition answers; a killed process does not). */
const DEAD_PROBE_EVERY = 5
/** Least time between two push-pulls with the same peer on demand (a new peer, a delta we could not apply). */
const SYNC_AGAIN_MS = 5000

/**
 * SWIM failure detection and repair: every period one member (a random connected one: its
 * connection is already open, so a probe costs one frame each way) is pinged; when it does not
 * answer, `indirectProbes` others are asked to ping it; when none reaches it, it is suspect (the
 * caller publishes the suspicion). Every `syncMs`, a push-pull with one random member: the hash of
 * both views first, and only when they differ the digests and the records one side lacks.
 */
export class Swim {
  readonly #c: SwimComponents
  readonly #init: SwimInit
  #controller = new AbortController()
  #probeTimer: NodeJS.Timeout | undefined
  #syncTimer: NodeJS.Timeout | undefined
  #round = 0
  /**
   * Local health (Lifeguard): grows when this node looks slow (it had to refute a suspicion, or a
   * member it could not reach answered others), shrinks with each answered probe; probe timeouts are
   * multiplied by 1 + it, so an overloaded node does not accuse the members it is too slow to hear.
   */
  #health = 0
  /** When the probe timer last fired: a late timer means this node's event loop is starved. */
  #lastRound = 0
  /** This process's event-loop delay since the last probe round (a starved node gives no verdict). */
  readonly #lag = monitorEventLoopDelay({ resolution: 20 })
  #lagMs = 0
  readonly #synced = new Map<string, number>()

  constructor(components: SwimComponents, init: SwimInit) {
    this.#c = components
    this.#init = init
  }

  start(): void {
    if (this.#probeTimer) return
    this.#controller = new AbortController()
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms)
      t.unref?.()
      return t
    }
    this.#lag.enable()
    this.#probeTimer = every(this.#init.heartbeatMs, () => this.#probeRound())
    this.#syncTimer = every(this.#init.syncMs, () => {
      const peerId = pick(this.#alive(true), 1)[0] ?? pick(this.#alive(false), 1)[0]
      if (peerId) this.sync(peerId)
    })
  }

  stop(): void {
    clearInterval(this.#probeTimer)
    clearInterval(this.#syncTimer)
    this.#probeTimer = undefined
    this.#syncTimer = undefined
    this.#lag.disable()
    this.#controller.abort()
  }

  /** Probes `peerId` now: directly, then through others; reports the outcome to the membership. */
  async probe(peerId: string): Promise<void> {
    const m = this.#c.membership.get(peerId)
    if (!m) return
    const before = m.state
    m.probing = true
    m.lastProbe = Date.now()
    const t0 = performance.now()
    let ok = await this.#ping(peerId)
    const direct = ok
    if (!ok && !this.#controller.signal.aborted) {
      const helpers = pick(
        this.#alive(true).filter((id) => id !== peerId),
        this.#init.indirectProbes,
      )
      const answers = await Promise.all(
        helpers.map((h) =>
          this.#call(h, { t: 'ping-req', target: peerId }, pingAnswer, 2 * this.#timeout()).then(
            (a) => a.ok,
            () => false,
          ),
        ),
      )
      ok = answers.some(Boolean)
    }
    if (this.#controller.signal.aborted) return
    this.#health = Math.max(0, Math.min(MAX_HEALTH, this.#health + (direct ? -1 : ok ? 1 : 0)))
    // A timeout while our own event loop stalled: the silence may be ours; no verdict this time
    // (a refused connection is a verdict whatever our state). Asked again soon if it lost its link.
    const elapsed = performance.now() - t0
    if (!ok && elapsed >= this.#timeout() && (elapsed > 4 * this.#timeout() || this.#starved())) {
      m.probing = false
      if (!this.#c.isConnected(peerId)) m.lastProbe = 0
      return
    }
    const changed = this.#c.membership.probeResult(peerId, ok)
    if (changed) this.#c.changed(changed, !ok && before === 'alive')
  }

  /** Push-pull with `peerId`: both end with every record newer on the other side. */
  async sync(peerId: string): Promise<void> {
    this.#synced.set(peerId, Date.now())
    const timeout = 4 * this.#timeout()
    try {
      const first = await this.#call(peerId, { t: 'sync', hash: this.#hash() }, syncAnswer, timeout)
      if (first.same || !first.digest) return
      const theirs = first.digest
      this.#readDigest(theirs)
      const digest = this.#digest()
      const second = await this.#call(
        peerId,
        { t: 'sync', hash: hashOf(digest), digest, records: this.#newerThan(theirs) },
        syncAnswer,
        timeout,
      )
      this.#merge(second.records ?? [])
    } catch (err) {
      this.#c.logger.debug({ err, peerId }, 'push-pull failed')
    }
  }

  /** A push-pull with `peerId` unless one was done lately (a new peer; a delta whose base we lack). */
  syncSoon(peerId: string): void {
    if (Date.now() - (this.#synced.get(peerId) ?? 0) < SYNC_AGAIN_MS) return
    this.sync(peerId)
  }

  /** Someone suspected this node: it may be the slow one. */
  refuted(): void {
    this.#health = Math.min(MAX_HEALTH, this.#health + 1)
  }

  /** The event loop stalled for a good part of a probe timeout lately. */
  #starved(): boolean {
    return Math.max(this.#lagMs, this.#lag.max / 1e6) > this.#timeout() / 4
  }

  #timeout(): number {
    return this.#init.probeTimeoutMs * (1 + this.#health)
  }

  /** The serving side of the protocol. */
  async handle(body: unknown, from: string, signal: AbortSignal): Promise<unknown> {
    const req: Request = requestSchema.parse(body)
    if (req.t === 'ping') return { ok: true }
    if (req.t === 'ping-req') {
      this.#c.stats.probes++
      return { ok: await this.#ping(req.target, signal) }
    }
    if (!req.digest) return req.hash === this.#hash() ? { same: true } : { digest: this.#digest() }
    this.#synced.set(from, Date.now())
    this.#merge(req.records ?? [])
    this.#readDigest(req.digest)
    return { records: this.#newerThan(req.digest) }
  }

  #probeRound(): void {
    this.#round++
    const now = performance.now()
    const late = now - this.#lastRound - this.#init.heartbeatMs
    this.#lastRound = now
    this.#lagMs = this.#lag.max / 1e6
    this.#lag.reset()
    // The timer fired far too late: this process is starved, and its probes would time out unfairly.
    if (late > this.#timeout() || this.#starved()) return
    const m = this.#c.membership
    if (this.#round % DEAD_PROBE_EVERY === 0) {
      const dead = m.members().filter((x) => x.state === 'dead' && !x.probing)
      const target = pick(dead, 1)[0]
      if (target) this.#probeDead(target)
    }
    // Mostly a connected member (no dial); every few rounds any member, so that one nobody is
    // connected to any more is still probed.
    const anyone = this.#round % DEAD_PROBE_EVERY === 1
    const candidates = this.#alive(!anyone).filter((id) => !m.get(id)?.probing)
    const target = pick(candidates, 1)[0] ?? pick(this.#alive(false), 1)[0]
    if (target) this.probe(target).catch((err) => this.#c.logger.error({ err }, 'probe failed'))
  }

  /** A dead member that answers is alive again (a healed partition): then exchange views with it. */
  #probeDead(target: Member): void {
    target.probing = true
    this.#ping(target.peerId)
      .then((ok) => {
        if (this.#controller.signal.aborted) return
        const changed = this.#c.membership.probeResult(target.peerId, ok)
        if (changed) this.#c.changed(changed, false)
        if (ok) this.sync(target.peerId)
      })
      .catch((err) => this.#c.logger.error({ err }, 'probe of a dead member failed'))
  }

  async #ping(peerId: string, signal?: AbortSignal): Promise<boolean> {
    this.#c.stats.probes++
    try {
      return (await this.#call(peerId, { t: 'ping' }, pingAnswer, this.#timeout(), signal)).ok
    } catch (err) {
      this.#c.logger.debug({ err, peerId }, 'probe unanswered')
      return false
    }
  }

  async #call<T>(
    peerId: string,
    body: Request,
    answer: z.ZodType<T>,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<T> {
    const signals = [this.#controller.signal, AbortSignal.timeout(timeoutMs)]
    return this.#c.channels.call(
      peerId,
      body,
      answer,
      AbortSignal.any(signal ? [...signals, signal] : signals),
    )
  }

  /** Alive members (suspects included), connected ones only when `connected`. */
  #alive(connected: boolean): string[] {
    const out: string[] = []
    for (const m of this.#c.membership.live())
      if ((m.state === 'alive' || m.state === 'suspect') && (!connected || this.#c.isConnected(m.peerId)))
        out.push(m.peerId)
    return out
  }

  #digest(): Digest {
    const out: Digest = []
    out.push([this.#c.selfId, stateSeq(this.#c.selfRecord()), 0])
    for (const m of this.#c.membership.live())
      if (m.state !== 'left') out.push([m.peerId, m.stateSeq, m.state === 'dead' ? 1 : 0])
    return out
  }

  #hash(): string {
    return hashOf(this.#digest())
  }

  /** Our records newer than the partner's digest lists them (or that it lacks). */
  #newerThan(theirs: Digest): MemberRecord[] {
    const known = new Map(theirs.map(([id, seq]) => [id, seq]))
    const out: MemberRecord[] = []
    const self = this.#c.selfRecord()
    if (stateSeq(self) > (known.get(this.#c.selfId) ?? 0)) out.push(self)
    for (const m of this.#c.membership.live()) {
      if (m.state === 'left' || m.state === 'dead' || m.stateSeq <= (known.get(m.peerId) ?? 0)) continue
      const r = this.#c.membership.record(m.peerId)
      if (r) out.push(r)
    }
    return out
  }

  /** Their digest: we refute if they think us dead; a member they see alive and we think dead is probed. */
  #readDigest(theirs: Digest): void {
    for (const [id, , dead] of theirs) {
      if (id === this.#c.selfId) {
        if (dead) this.#c.refute()
        continue
      }
      const m = this.#c.membership.get(id)
      if (!dead && m?.state === 'dead' && !m.probing) this.#probeDead(m)
    }
  }

  #merge(records: MemberRecord[]): void {
    for (const r of records) {
      if (r.full.peer === this.#c.selfId) continue
      const before = this.#c.membership.get(r.full.peer)?.state
      const { member } = this.#c.membership.merge(r)
      if (member && (before !== member.state || before === undefined)) this.#c.changed(member, false)
    }
  }
}

function stateSeq(r: MemberRecord): number {
  return Math.max(r.full.seq, r.delta?.seq ?? 0)
}

function hashOf(digest: Digest): string {
  const lines = digest.map(([id, seq, dead]) => `${id}:${seq}:${dead}`).sort()
  return createHash('sha256').update(lines.join('\n')).digest('base64').slice(0, 22)
}

function pick<T>(xs: T[], n: number): T[] {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a.slice(0, n)
}
