import { createHash } from 'node:crypto'
import { Cron } from 'croner'
import { errors } from '../errors.ts'
import type { AlarmRecord } from '../store/index.ts'

/** The feeds of the shared `alarms` package, as OpenWhisk's `/whisk.system/alarms/*`. */
export const ALARM_FEEDS = ['alarm', 'interval', 'once'] as const
export type AlarmFeed = (typeof ALARM_FEEDS)[number]

/** What a feed's parameters set on an alarm (the rest of the record is the service's). */
export type AlarmSchedule = Pick<
  AlarmRecord,
  'feed' | 'cron' | 'timezone' | 'minutes' | 'date' | 'startDate' | 'stopDate' | 'deleteAfterFire' | 'payload'
>

/**
 * Validates a feed's parameters (OpenWhisk's names: `cron`, `timezone`, `minutes`, `date`,
 * `startDate`, `stopDate`, `deleteAfterFire`, `trigger_payload`) into a schedule; a mistake throws
 * INVALID_ARGUMENT with what is wrong, so nothing is stored. A cron has 5 fields, or 6 with a
 * leading seconds field (croner's syntax; finer than OpenWhisk allows, for tests and short periods).
 */
export function scheduleFromParams(feed: AlarmFeed, p: Record<string, unknown>, now: number): AlarmSchedule {
  const payload = payloadOf(p.trigger_payload)
  const startDate = p.startDate === undefined ? undefined : dateOf(p.startDate, 'startDate')
  const stopDate = p.stopDate === undefined ? undefined : dateOf(p.stopDate, 'stopDate')
  if (startDate !== undefined && startDate <= now)
    throw errors.invalidArgument(`startDate ${iso(startDate)} must be in the future`)
  if (stopDate !== undefined && stopDate <= (startDate ?? now))
    throw errors.invalidArgument(
      `stopDate ${iso(stopDate)} must be after ${startDate === undefined ? 'now' : `startDate ${iso(startDate)}`}`,
    )
  const window = {
    ...(startDate !== undefined ? { startDate } : {}),
    ...(stopDate !== undefined ? { stopDate } : {}),
  }
  switch (feed) {
    case 'alarm': {
      if (typeof p.cron !== 'string' || p.cron.trim() === '')
        throw errors.invalidArgument('the alarm feed needs a cron parameter, e.g. "*/5 * * * *"')
      const timezone = p.timezone === undefined ? undefined : timezoneOf(p.timezone)
      const cron = p.cron.trim()
      const fields = cron.split(/\s+/).length
      if (fields !== 5 && fields !== 6)
        throw errors.invalidArgument(
          `cron '${cron}' has ${fields} fields; it needs 5 (minute hour day month weekday) or 6 (seconds first)`,
        )
      try {
        new Cron(cron, { paused: true, ...(timezone ? { timezone } : {}) })
      } catch (err) {
        throw errors.invalidArgument(`cron '${cron}' is not valid: ${(err as Error).message}`)
      }
      return { feed, cron, ...(timezone ? { timezone } : {}), ...window, payload }
    }
    case 'interval': {
      const minutes = Number(p.minutes)
      if (p.minutes === undefined || !Number.isInteger(minutes) || minutes < 1)
        throw errors.invalidArgument('the interval feed needs minutes, a whole number of at least 1')
      return { feed, minutes, ...window, payload }
    }
    case 'once': {
      if (p.date === undefined) throw errors.invalidArgument('the once feed needs a date')
      const date = dateOf(p.date, 'date')
      if (date <= now) throw errors.invalidArgument(`date ${iso(date)} must be in the future`)
      const del = p.deleteAfterFire ?? 'false'
      const deleteAfterFire = String(del)
      if (deleteAfterFire !== 'false' && deleteAfterFire !== 'true' && deleteAfterFire !== 'rules')
        throw errors.invalidArgument(`deleteAfterFire is false, true or rules, not ${JSON.stringify(del)}`)
      return { feed, date, deleteAfterFire, payload }
    }
  }
}

/**
 * The alarm's scheduled times in (`after`, `upto`], oldest first, at most `max`. Ticks start after
 * the alarm was created (or at its startDate) and end at its stopDate.
 */
export function ticksBetween(a: AlarmRecord, after: number, upto: number, max: number): number[] {
  const out: number[] = []
  let t = nextTick(a, after)
  while (t !== null && t <= upto && out.length < max) {
    out.push(t)
    t = nextTick(a, t)
  }
  return out
}

/** The first scheduled time after `after`, or null when the alarm has no more. */
export function nextTick(a: AlarmRecord, after: number): number | null {
  const from = Math.max(after, a.startDate !== undefined ? a.startDate - 1 : a.created)
  let t: number | null
  switch (a.feed) {
    case 'once':
      t = a.date !== undefined && a.date > from ? a.date : null
      break
    case 'interval': {
      const period = (a.minutes ?? 1) * 60_000
      // With a startDate the first tick is at it; without, one period after the feed was created.
      const base = a.startDate ?? a.created + period
      t = from < base ? base : base + (Math.floor((from - base) / period) + 1) * period
      break
    }
    case 'alarm': {
      const cron = new Cron(a.cron ?? '', { paused: true, ...(a.timezone ? { timezone: a.timezone } : {}) })
      t = cron.nextRun(new Date(from))?.getTime() ?? null
      break
    }
  }
  return t !== null && a.stopDate !== undefined && t > a.stopDate ? null : t
}

/** A tick's id: the trigger activation's id for that scheduled time (32 hex), the same on every node. */
export function tickId(namespace: string, name: string, scheduled: number): string {
  return createHash('sha256').update(`alarm:${namespace}/${name}@${scheduled}`).digest('hex').slice(0, 32)
}

function payloadOf(v: unknown): Record<string, unknown> {
  if (v === undefined) return {}
  let o = v
  if (typeof v === 'string') {
    try {
      o = JSON.parse(v)
    } catch {
      throw errors.invalidArgument('trigger_payload is a JSON object (or its text)')
    }
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw errors.invalidArgument('trigger_payload is a JSON object (or its text)')
  return o as Record<string, unknown>
}

function dateOf(v: unknown, what: string): number {
  const t = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN
  if (!Number.isFinite(t))
    throw errors.invalidArgument(`${what} ${JSON.stringify(v)} is not a date (ISO 8601 text or epoch ms)`)
  return Math.trunc(t)
}

function timezoneOf(v: unknown): string {
  if (typeof v === 'string') {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: v })
      return v
    } catch {}
  }
  throw errors.invalidArgument(`timezone ${JSON.stringify(v)} is not an IANA time zone (e.g. "Europe/Paris")`)
}

const iso = (t: number) => new Date(t).toISOString()
