import { describe, expect, it } from 'vitest'
import { nextTick, scheduleFromParams, tickId, ticksBetween } from '../../agent/events/index.ts'
import type { AlarmRecord } from '../../agent/store/index.ts'

/** Issue 20: the alarm feeds' schedules (pure: parameters in, scheduled times out). */

const NOW = Date.parse('2026-03-01T10:00:00.000Z')

function alarm(over: Partial<AlarmRecord>): AlarmRecord {
  return {
    type: 'alarm',
    namespace: 'guest',
    name: 't',
    version: 1,
    publish: false,
    annotations: {},
    updated: '',
    origin: 'n',
    feed: 'alarm',
    payload: {},
    subject: 's',
    created: NOW,
    ...over,
  }
}

const iso = (ts: number[]) => ts.map((t) => new Date(t).toISOString())

describe('feed parameters', () => {
  it('refuses a malformed cron, a stop before the start, a past date, bad minutes or time zone', () => {
    const bad: Array<[Parameters<typeof scheduleFromParams>[0], Record<string, unknown>, RegExp]> = [
      ['alarm', {}, /needs a cron/],
      ['alarm', { cron: 'every minute' }, /has 2 fields/],
      ['alarm', { cron: '61 * * * *' }, /cron '61 \* \* \* \*' is not valid/],
      ['alarm', { cron: '* * * * * * *' }, /has 7 fields/],
      ['alarm', { cron: '* * * * *', timezone: 'Mars/Olympus' }, /not an IANA time zone/],
      [
        'alarm',
        { cron: '* * * * *', startDate: '2026-03-02T00:00:00Z', stopDate: '2026-03-01T12:00:00Z' },
        /stopDate 2026-03-01T12:00:00.000Z must be after startDate 2026-03-02T00:00:00.000Z/,
      ],
      ['alarm', { cron: '* * * * *', stopDate: '2026-02-01T00:00:00Z' }, /must be after now/],
      ['alarm', { cron: '* * * * *', startDate: 'soon' }, /startDate "soon" is not a date/],
      ['interval', { minutes: 0 }, /at least 1/],
      ['interval', { minutes: 1.5 }, /whole number/],
      ['once', {}, /needs a date/],
      ['once', { date: '2026-02-28T00:00:00Z' }, /must be in the future/],
      ['once', { date: NOW + 1000, deleteAfterFire: 'maybe' }, /deleteAfterFire is false, true or rules/],
      ['alarm', { cron: '* * * * *', trigger_payload: '[1]' }, /trigger_payload is a JSON object/],
    ]
    for (const [feed, params, message] of bad) {
      expect(() => scheduleFromParams(feed, params, NOW), JSON.stringify(params)).toThrow(message)
    }
  })

  it('takes OpenWhisk’s parameters: dates as ISO text or epoch ms, the payload as an object or its text', () => {
    expect(
      scheduleFromParams(
        'alarm',
        { cron: '0 9 * * 1-5', timezone: 'Europe/Paris', trigger_payload: '{"a":1}' },
        NOW,
      ),
    ).toEqual({ feed: 'alarm', cron: '0 9 * * 1-5', timezone: 'Europe/Paris', payload: { a: 1 } })
    expect(scheduleFromParams('interval', { minutes: '2', startDate: NOW + 5000 }, NOW)).toEqual({
      feed: 'interval',
      minutes: 2,
      startDate: NOW + 5000,
      payload: {},
    })
    expect(
      scheduleFromParams('once', { date: '2026-03-01T11:00:00Z', deleteAfterFire: true }, NOW),
    ).toMatchObject({ date: Date.parse('2026-03-01T11:00:00Z'), deleteAfterFire: 'true' })
  })
})

describe('scheduled times', () => {
  it('a cron with a seconds field, between two times, up to its stop date', () => {
    const a = alarm({ cron: '*/5 * * * * *', stopDate: NOW + 20_000 })
    expect(iso(ticksBetween(a, NOW, NOW + 60_000, 100))).toEqual([
      '2026-03-01T10:00:05.000Z',
      '2026-03-01T10:00:10.000Z',
      '2026-03-01T10:00:15.000Z',
      '2026-03-01T10:00:20.000Z',
    ])
    expect(ticksBetween(a, NOW, NOW + 60_000, 2)).toHaveLength(2)
    expect(nextTick(a, NOW + 20_000)).toBeNull()
  })

  it('a cron in a time zone', () => {
    const a = alarm({ cron: '0 9 * * *', timezone: 'America/New_York' })
    expect(new Date(nextTick(a, NOW)!).toISOString()).toBe('2026-03-01T14:00:00.000Z')
  })

  it('an interval from its creation, or from its start date', () => {
    expect(iso(ticksBetween(alarm({ feed: 'interval', minutes: 2 }), NOW, NOW + 300_000, 10))).toEqual([
      '2026-03-01T10:02:00.000Z',
      '2026-03-01T10:04:00.000Z',
    ])
    const started = alarm({ feed: 'interval', minutes: 1, startDate: NOW + 30_000 })
    expect(iso(ticksBetween(started, NOW, NOW + 120_000, 10))).toEqual([
      '2026-03-01T10:00:30.000Z',
      '2026-03-01T10:01:30.000Z',
    ])
  })

  it('once, at its date and never again', () => {
    const a = alarm({ feed: 'once', date: NOW + 1000 })
    expect(ticksBetween(a, NOW, NOW + 10_000, 10)).toEqual([NOW + 1000])
    expect(nextTick(a, NOW + 1000)).toBeNull()
  })

  it('a tick’s id is the trigger and the scheduled time, the same on every node', () => {
    expect(tickId('guest', 't', NOW)).toMatch(/^[0-9a-f]{32}$/)
    expect(tickId('guest', 't', NOW)).toBe(tickId('guest', 't', NOW))
    expect(tickId('guest', 't', NOW)).not.toBe(tickId('guest', 't', NOW + 5000))
    expect(tickId('guest', 't', NOW)).not.toBe(tickId('guest', 'u', NOW))
  })
})
