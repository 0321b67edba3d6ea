import { errors } from '../errors.ts'
import type { Startable } from '../lifecycle.ts'
import type { Logger } from '../log.ts'
import { rendezvous } from '../placement/rendezvous.ts'
import type { AlarmRecord, Store } from '../store/index.ts'
import type { AlarmOptions } from './options.ts'
import { type AlarmFeed, nextTick, scheduleFromParams, tickId, ticksBetween } from './schedule.ts'
import { type EventService, entityName } from './service.ts'

export interface AlarmServiceComponents {
  logger: Logger
  store: Store
  nodeId: string
  events: EventService
  /** The live members (alive or suspect), this node included: the candidates to own an alarm. */
  members: () => readonly string[]
}

/** The feed lifecycle events OpenWhisk's clients send (`lifecycleEvent`). */
const LIFECYCLE = ['CREATE', 'READ', 'UPDATE', 'DELETE'] as const
const FEED_KEYS = new Set(['lifecycleEvent', 'triggerName', 'authKey'])

/**
 * Alarm feeds without a single point of failure. Every node holds every alarm (replicated
 * metadata); each alarm is owned by one live member, the first by rendezvous over the live members
 * on its trigger's name, and only the owner fires it. After each tick the owner records its
 * progress (`lastTick`) on the alarm, which replicates; when the owner dies or leaves, the next
 * owner resumes from there. A tick's trigger activation id is derived from the trigger and the
 * scheduled time, so a new owner first asks the record's owners whether a tick it is about to
 * fire late was fired already (the old owner's progress may not have reached it); missed ticks
 * fire late, with their scheduled time, within `catchUpMs` (docs/events.md).
 */
export class AlarmService implements Startable {
  readonly #c: AlarmServiceComponents
  readonly #init: AlarmOptions
  readonly #log: Logger
  /** Alarms this node owned at its last look: one it did not is checked against the records first. */
  readonly #owned = new Set<string>()
  #timer: NodeJS.Timeout | null = null
  #running = false
  #looking: Promise<void> | null = null
  readonly #abort = new AbortController()

  constructor(components: AlarmServiceComponents, init: AlarmOptions) {
    this.#c = components
    this.#init = init
    this.#log = components.logger
  }

  async start(): Promise<void> {
    if (this.#running) return
    this.#running = true
    this.#schedule(0)
  }

  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    this.#abort.abort()
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    await this.#looking
  }

  /** Who fires the alarm now: the first live member by rendezvous on its trigger's name. */
  ownerOf(namespace: string, name: string): string | undefined {
    return rendezvous(`alarm:${namespace}/${name}`, [...this.#c.members()], 1)[0]
  }

  /**
   * The feed action `/whisk.system/alarms/{feed}` as OpenWhisk's clients invoke it: `lifecycleEvent`
   * CREATE, READ, UPDATE or DELETE for `triggerName` (`/ns/name`, `_` for the caller's), the
   * schedule's parameters beside them. The trigger must be the caller's; a bad schedule stores
   * nothing. `authKey` is not kept: the alarm fires as the caller's namespace.
   */
  async feed(
    feed: AlarmFeed,
    params: Record<string, unknown>,
    caller: { namespace: string; subject: string },
  ): Promise<Record<string, unknown>> {
    const event = String(params.lifecycleEvent ?? '').toUpperCase()
    if (!(LIFECYCLE as readonly string[]).includes(event))
      throw errors.invalidArgument(`lifecycleEvent is one of ${LIFECYCLE.join(', ')}`)
    if (typeof params.triggerName !== 'string') throw errors.invalidArgument('the feed needs a triggerName')
    const t = entityName(params.triggerName, caller.namespace, 'trigger')
    if (t.namespace !== caller.namespace || t.name.includes('/'))
      throw errors.invalidArgument(
        `'${params.triggerName}' is not a trigger of namespace ${caller.namespace}`,
      )
    const trigger = await this.#c.events.getTrigger(t.namespace, t.name)
    const old = await this.#c.store.events.alarm(t.namespace, t.name)
    const live = old && !old.deleted ? old : null
    const own = Object.fromEntries(Object.entries(params).filter(([k]) => !FEED_KEYS.has(k)))
    const now = Date.now()
    switch (event) {
      case 'CREATE': {
        if (live) throw errors.conflict(`trigger ${t.name} already has an alarm; delete it or UPDATE it`)
        const schedule = scheduleFromParams(feed, own, now)
        await this.#c.events.writeRecord({
          type: 'alarm',
          namespace: t.namespace,
          name: t.name,
          version: (old?.version ?? 0) + 1,
          publish: false,
          annotations: {},
          ...schedule,
          subject: caller.subject,
          created: now,
          updated: '',
          origin: '',
        })
        return {}
      }
      case 'UPDATE': {
        if (!live) throw errors.notFound(`trigger ${t.name} has no alarm`)
        // The given parameters over the stored ones, validated as a whole.
        const merged: Record<string, unknown> = { ...paramsOf(live), ...own }
        // A start already passed stays unsaid (it would be refused as not in the future).
        if (own.startDate === undefined && live.startDate !== undefined && live.startDate <= now)
          delete merged.startDate
        const schedule = scheduleFromParams(live.feed, merged, now)
        const { cron, timezone, minutes, date, startDate, stopDate, deleteAfterFire, ...rest } = live
        await this.#c.events.writeRecord({ ...rest, ...schedule, version: live.version + 1 })
        return {}
      }
      case 'DELETE':
        if (live) await this.#c.events.writeRecord({ ...live, version: live.version + 1, deleted: true })
        return {}
      default: {
        if (!live) throw errors.notFound(`trigger ${t.name} has no alarm`)
        const next = nextTick(live, Math.max(live.lastTick ?? 0, now))
        return {
          config: { name: trigger.name, namespace: trigger.namespace, feed: live.feed, ...paramsOf(live) },
          status: {
            active: next !== null,
            owner: this.ownerOf(live.namespace, live.name),
            ...(next !== null ? { nextTick: new Date(next).toISOString() } : {}),
            ...(live.lastTick !== undefined
              ? { lastTick: new Date(live.lastTick).toISOString(), lastFiredBy: live.lastFiredBy }
              : {}),
          },
        }
      }
    }
  }

  #schedule(ms: number): void {
    if (!this.#running) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#looking = this.#look()
        .catch((err: unknown) => this.#log.error({ err }, 'the alarm scheduler failed a look'))
        .then((wait) => {
          this.#looking = null
          this.#schedule(wait ?? this.#init.checkMs)
        })
    }, ms)
    this.#timer.unref?.()
  }

  /** Fires every due tick of the alarms this node owns; answers how long to sleep. */
  async #look(): Promise<number> {
    let wait = this.#init.checkMs
    const seen = new Set<string>()
    for (const a of await this.#c.store.events.alarms()) {
      if (!this.#running) break
      const key = `${a.namespace}/${a.name}`
      if (this.ownerOf(a.namespace, a.name) !== this.#c.nodeId) continue
      seen.add(key)
      const takenOver = !this.#owned.has(key)
      this.#owned.add(key)
      const last = await this.#fireDue(a, takenOver)
      const next = nextTick(a, Math.max(last, Date.now()))
      if (next !== null) wait = Math.min(wait, next - Date.now())
    }
    for (const key of this.#owned) if (!seen.has(key)) this.#owned.delete(key)
    return Math.max(5, wait)
  }

  /** Fires the alarm's ticks due now, oldest first; answers the scheduled time of the last one handled. */
  async #fireDue(a: AlarmRecord, takenOver: boolean): Promise<number> {
    const now = Date.now()
    let last = a.lastTick ?? a.created
    const due = ticksBetween(a, last, now, this.#init.maxCatchUp)
    const stale = due.filter((t) => t < now - this.#init.catchUpMs)
    if (stale.length > 0)
      this.#log.warn(
        {
          trigger: `${a.namespace}/${a.name}`,
          skipped: stale.length,
          oldest: new Date(stale[0]!).toISOString(),
        },
        'alarm ticks older than catchUpMs skipped',
      )
    for (const t of due) {
      if (!this.#running) break
      if (t >= now - this.#init.catchUpMs) await this.#fireTick(a, t, takenOver)
      last = t
    }
    if (due.length > 0) await this.#progress(a, last)
    return last
  }

  async #fireTick(a: AlarmRecord, scheduled: number, check: boolean): Promise<void> {
    const activationId = tickId(a.namespace, a.name, scheduled)
    const trigger = `${a.namespace}/${a.name}`
    if (check) {
      // A new owner: the old one may have fired this tick and died before its progress reached here.
      const found = await this.#c.events
        .findRecord(activationId, AbortSignal.any([this.#abort.signal, AbortSignal.timeout(5000)]))
        .catch(() => null)
      if (found) {
        this.#log.info({ trigger, activationId, firedBy: found.node }, 'alarm tick fired already')
        return
      }
    }
    const late = Date.now() - scheduled
    try {
      const id = await this.#c.events.fire(a.namespace, a.name, a.payload, a.subject, {
        activationId,
        scheduled,
        check,
      })
      this.#log.info(
        { trigger, activationId: id, scheduled: new Date(scheduled).toISOString(), lateMs: late },
        'alarm tick fired',
      )
    } catch (err) {
      this.#log.warn({ err, trigger, scheduled }, 'an alarm tick could not fire')
    }
  }

  /** Records the progress on the alarm (it replicates), and ends a fired `once` as it asks. */
  async #progress(a: AlarmRecord, lastTick: number): Promise<void> {
    const cur = await this.#c.store.events.alarm(a.namespace, a.name)
    if (!cur || cur.deleted) return
    await this.#c.events.writeRecord({
      ...cur,
      version: cur.version + 1,
      lastTick,
      lastFiredBy: this.#c.nodeId,
    })
    if (cur.feed !== 'once' || nextTick(cur, lastTick) !== null) return
    if (cur.deleteAfterFire === 'rules') {
      const trigger = await this.#c.store.events.trigger(cur.namespace, cur.name)
      for (const r of trigger ? await this.#c.events.rulesOf(trigger) : [])
        await this.#c.events.deleteRule(r.namespace, r.name).catch(() => {})
    }
    if (cur.deleteAfterFire === 'true' || cur.deleteAfterFire === 'rules')
      await this.#c.events.deleteTrigger(cur.namespace, cur.name).catch((err: unknown) => {
        this.#log.warn({ err, trigger: `${cur.namespace}/${cur.name}` }, 'deleteAfterFire failed')
      })
  }
}

/** An alarm's schedule as the feed's parameters (what READ shows and UPDATE starts from). */
function paramsOf(a: AlarmRecord): Record<string, unknown> {
  const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString())
  const out: Record<string, unknown> = {
    cron: a.cron,
    timezone: a.timezone,
    minutes: a.minutes,
    date: iso(a.date),
    startDate: iso(a.startDate),
    stopDate: iso(a.stopDate),
    deleteAfterFire: a.deleteAfterFire,
    trigger_payload: a.payload,
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined))
}
