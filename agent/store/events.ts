import { z } from 'zod'
import { BUCKETS, type Db } from './db.ts'
import { isHlc } from './hlc.ts'
import { LwwTable } from './lww-table.ts'
import { NAME_PART, NAME_RE, NAMESPACE_RE } from './types.ts'

const PART_RE = new RegExp(`^${NAME_PART}$`)
const jsonObject = z.record(z.string(), z.unknown())
const hlc = z.string().refine(isHlc, 'an HLC timestamp')

const entity = {
  namespace: z.string().regex(NAMESPACE_RE),
  name: z.string().regex(PART_RE),
  version: z.number().int().positive(),
  publish: z.boolean(),
  annotations: jsonObject,
  updated: hlc,
  origin: z.string().min(1).max(128),
  deleted: z.boolean().optional(),
}

/**
 * An OpenWhisk trigger: a named channel of events with default parameters. Firing it runs the
 * action of every active rule that names it. Replicated to every node (last-writer-wins; a delete
 * is a newer copy marked deleted).
 */
export const triggerRecordSchema = z
  .object({
    type: z.literal('trigger'),
    ...entity,
    parameters: jsonObject,
    /** The webhook's secret, sealed with the cluster's secrets key (agent/store/secrets.ts); none: no webhook. */
    webhook: z.string().max(1024).optional(),
  })
  .strict()
export type TriggerRecord = z.infer<typeof triggerRecordSchema>

/** A rule: when `trigger` fires, `action` (`name` or `pkg/name`, maybe of another namespace) runs, if active. */
export const ruleRecordSchema = z
  .object({
    type: z.literal('rule'),
    ...entity,
    trigger: z
      .object({ namespace: z.string().regex(NAMESPACE_RE), name: z.string().regex(PART_RE) })
      .strict(),
    action: z.object({ namespace: z.string().regex(NAMESPACE_RE), name: z.string().regex(NAME_RE) }).strict(),
    status: z.enum(['active', 'inactive']),
  })
  .strict()
export type RuleRecord = z.infer<typeof ruleRecordSchema>

/**
 * An alarm feed on a trigger (OpenWhisk's `/whisk.system/alarms/{alarm,interval,once}`): its
 * schedule, and the progress of whichever node owns it (`lastTick`, the scheduled time of the
 * last tick fired, and who fired it), so that the next owner resumes from there. Replicated to
 * every node like the trigger (same namespace and name).
 */
export const alarmRecordSchema = z
  .object({
    type: z.literal('alarm'),
    ...entity,
    feed: z.enum(['alarm', 'interval', 'once']),
    cron: z.string().max(256).optional(),
    timezone: z.string().max(64).optional(),
    minutes: z.number().int().positive().optional(),
    /** `once`: when, epoch ms. */
    date: z.number().int().optional(),
    startDate: z.number().int().optional(),
    stopDate: z.number().int().optional(),
    deleteAfterFire: z.enum(['false', 'true', 'rules']).optional(),
    /** What each fire carries (OpenWhisk's `trigger_payload`). */
    payload: jsonObject,
    /** Who created the feed: the subject of every trigger activation it fires. */
    subject: z.string().max(256),
    /** Ticks are scheduled after this, epoch ms. */
    created: z.number().int(),
    lastTick: z.number().int().optional(),
    lastFiredBy: z.string().max(128).optional(),
  })
  .strict()
export type AlarmRecord = z.infer<typeof alarmRecordSchema>

export const eventRecordSchema = z.discriminatedUnion('type', [
  triggerRecordSchema,
  ruleRecordSchema,
  alarmRecordSchema,
])
export type EventRecord = z.infer<typeof eventRecordSchema>

/** `trigger:ns/name`, `rule:ns/name` or `alarm:ns/name`: one table for all, no collision between kinds. */
export const eventId = (r: { type: EventRecord['type']; namespace: string; name: string }) =>
  `${r.type}:${r.namespace}/${r.name}`

/** Triggers and rules in the `evt` bucket, every record cached in memory (they are few). */
export class EventRepository {
  readonly table: LwwTable<EventRecord>

  constructor(db: Db) {
    this.table = new LwwTable<EventRecord>(db, BUCKETS.events, eventId)
  }

  async trigger(namespace: string, name: string): Promise<TriggerRecord | null> {
    const r = await this.table.get(eventId({ type: 'trigger', namespace, name }))
    return r?.type === 'trigger' ? r : null
  }

  async rule(namespace: string, name: string): Promise<RuleRecord | null> {
    const r = await this.table.get(eventId({ type: 'rule', namespace, name }))
    return r?.type === 'rule' ? r : null
  }

  async alarm(namespace: string, name: string): Promise<AlarmRecord | null> {
    const r = await this.table.get(eventId({ type: 'alarm', namespace, name }))
    return r?.type === 'alarm' ? r : null
  }

  /** Live alarms of every namespace. */
  async alarms(): Promise<AlarmRecord[]> {
    return (await this.table.all()).filter((r): r is AlarmRecord => r.type === 'alarm' && !r.deleted)
  }

  /** Live triggers of a namespace, by name. */
  async triggers(namespace: string): Promise<TriggerRecord[]> {
    return (await this.table.all())
      .filter((r): r is TriggerRecord => r.type === 'trigger' && r.namespace === namespace && !r.deleted)
      .sort((a, b) => (a.name < b.name ? -1 : 1))
  }

  /** Live rules of a namespace, by name. */
  async rules(namespace: string): Promise<RuleRecord[]> {
    return (await this.table.all())
      .filter((r): r is RuleRecord => r.type === 'rule' && r.namespace === namespace && !r.deleted)
      .sort((a, b) => (a.name < b.name ? -1 : 1))
  }

  /** Live rules, of any namespace, that name the trigger. */
  async rulesOf(trigger: { namespace: string; name: string }): Promise<RuleRecord[]> {
    return (await this.table.all()).filter(
      (r): r is RuleRecord =>
        r.type === 'rule' &&
        !r.deleted &&
        r.trigger.namespace === trigger.namespace &&
        r.trigger.name === trigger.name,
    )
  }

  put(record: EventRecord): Promise<void> {
    eventRecordSchema.parse(record)
    return this.table.put(record)
  }

  merge(record: EventRecord): Promise<boolean> {
    eventRecordSchema.parse(record)
    return this.table.merge(record)
  }
}
