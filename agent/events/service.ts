import { createHash } from 'node:crypto'
import { z } from 'zod'
import { errors, toFnError } from '../errors.ts'
import { describeZodError } from '../functions/input.ts'
import type { Logger } from '../log.ts'
import type { HybridClock } from '../store/hlc.ts'
import {
  type ActivationRecord,
  type EventRecord,
  NAME_PART,
  NAME_RE,
  NAMESPACE_RE,
  newActivationId,
  type RuleRecord,
  type Store,
  type TriggerRecord,
} from '../store/index.ts'

const PART_RE = new RegExp(`^${NAME_PART}$`)
const jsonObject = z.record(z.string(), z.unknown())

export interface EventServiceComponents {
  logger: Logger
  store: Store
  clock: HybridClock
  nodeId: string
  /** Throws NOT_FOUND unless `name` (`name` or `pkg/name`) resolves to a function in `namespace`. */
  resolveAction: (name: string, namespace: string) => Promise<unknown>
  /**
   * An asynchronous invocation, as the API makes it: answers its activation id (202) or throws;
   * `activationId` given: that id instead of a new one.
   */
  invokeAsync: (
    name: string,
    params: Record<string, unknown>,
    namespace: string,
    activationId?: string,
  ) => Promise<string>
  /** A record by id from here or its owners (null when none has it), finished or still queued. */
  findRecord: (activationId: string, signal: AbortSignal) => Promise<ActivationRecord | null>
  /** Stores an activation record here and sends it to its owners. */
  keepRecord: (record: ActivationRecord) => Promise<void>
  /** After a local write of a trigger or rule (replication sends it to every node). */
  onWrite: (record: EventRecord) => void
}

const triggerInput = z
  .object({
    parameters: jsonObject.optional(),
    annotations: jsonObject.optional(),
    publish: z.boolean().optional(),
  })
  .strict()
export type TriggerInput = z.infer<typeof triggerInput>

const ruleInput = z
  .object({
    trigger: z.string().min(1).max(512).optional(),
    action: z.string().min(1).max(512).optional(),
    status: z.enum(['active', 'inactive']).optional(),
    annotations: jsonObject.optional(),
    publish: z.boolean().optional(),
  })
  .strict()
export type RuleInput = z.infer<typeof ruleInput>

/**
 * An alarm's tick: the trigger activation's id is the tick's (the same on every node), and its
 * scheduled time. Each rule's run gets an id derived from the tick's; with `check`, a run found
 * under that id (a previous owner fired the tick) is not started again.
 */
export interface Tick {
  activationId: string
  scheduled: number
  check: boolean
}

/** What one rule did when its trigger fired: a line of the trigger activation's logs (OpenWhisk's shape). */
interface RuleOutcome {
  rule: string
  action: string
  statusCode: number
  success: boolean
  activationId?: string
  error?: string
}

/**
 * Triggers and rules (OpenWhisk's event model). Both are replicated metadata, held whole by every
 * node (last-writer-wins on the HLC), so a trigger fires on whichever node receives the event:
 * that node records the trigger activation and invokes each active rule's action asynchronously
 * through placement.
 */
export class EventService {
  readonly #c: EventServiceComponents

  constructor(components: EventServiceComponents) {
    this.#c = components
  }

  listTriggers(namespace: string): Promise<TriggerRecord[]> {
    return this.#c.store.events.triggers(namespace)
  }

  async getTrigger(namespace: string, name: string): Promise<TriggerRecord> {
    const t = await this.#c.store.events.trigger(namespace, checkName(name, 'trigger'))
    if (!t || t.deleted) throw errors.notFound(`trigger '${name}' does not exist in namespace '${namespace}'`)
    return t
  }

  /** The rules naming the trigger, for OpenWhisk's `rules` field of a trigger. */
  rulesOf(t: TriggerRecord): Promise<RuleRecord[]> {
    return this.#c.store.events.rulesOf(t)
  }

  async putTrigger(
    namespace: string,
    name: string,
    body: unknown,
    overwrite: boolean,
  ): Promise<TriggerRecord> {
    checkName(name, 'trigger')
    const input = parse(triggerInput, body ?? {}, 'invalid trigger')
    const old = await this.#c.store.events.trigger(namespace, name)
    const live = old && !old.deleted ? old : null
    if (live && !overwrite)
      throw errors.conflict(`trigger '${name}' already exists; update it with overwrite`)
    const record: TriggerRecord = {
      type: 'trigger',
      namespace,
      name,
      version: (old?.version ?? 0) + 1,
      publish: input.publish ?? live?.publish ?? false,
      parameters: input.parameters ?? live?.parameters ?? {},
      annotations: input.annotations ?? live?.annotations ?? {},
      ...(live?.webhook ? { webhook: live.webhook } : {}),
      ...this.#stamp(),
    }
    return this.#write(record)
  }

  /**
   * Deletes the trigger and its feed (an alarm stops on every node as the deletes replicate); its
   * rules stay (they fire nothing until a trigger of that name exists again).
   */
  async deleteTrigger(namespace: string, name: string): Promise<TriggerRecord> {
    const t = await this.getTrigger(namespace, name)
    const alarm = await this.#c.store.events.alarm(namespace, name)
    if (alarm && !alarm.deleted)
      await this.#write({ ...alarm, version: alarm.version + 1, deleted: true, ...this.#stamp() })
    return this.#write({ ...t, version: t.version + 1, deleted: true, ...this.#stamp() })
  }

  /**
   * Writes a record stamped now (an alarm created, updated, its progress or deleted; a trigger's
   * webhook) here and sends it to every node.
   */
  writeRecord<R extends EventRecord>(record: R): Promise<R> {
    return this.#write({ ...record, ...this.#stamp() })
  }

  /**
   * Fires the trigger with `payload`: the active rules' actions are invoked asynchronously with
   * the trigger's parameters under the payload, and a trigger activation records which ones
   * started (its logs, one JSON line a rule). No active rule: nothing is recorded (`null`).
   */
  async fire(
    namespace: string,
    name: string,
    payload: Record<string, unknown>,
    subject: string,
    tick?: Tick,
  ): Promise<string | null> {
    const trigger = await this.getTrigger(namespace, name)
    const active = (await this.rulesOf(trigger)).filter((r) => r.status === 'active')
    if (active.length === 0) return null
    const start = Date.now()
    const args = { ...trigger.parameters, ...payload }
    const outcomes = await Promise.all(active.map((r) => this.#runRule(r, args, tick)))
    const record: ActivationRecord = {
      activationId: tick?.activationId ?? newActivationId(),
      namespace,
      name: trigger.name,
      version: `0.0.${trigger.version}`,
      subject,
      start,
      end: start,
      duration: 0,
      statusCode: 0,
      response: { status: 'success', statusCode: 0, success: true, result: payload },
      logs: outcomes.map((o) => JSON.stringify(o)),
      annotations: [
        { key: 'kind', value: 'trigger' },
        ...(tick
          ? [
              { key: 'scheduledTime', value: tick.scheduled },
              { key: 'firedBy', value: this.#c.nodeId },
            ]
          : []),
      ],
      publish: false,
      node: this.#c.nodeId,
      cold: false,
      hlc: this.#c.clock.now(),
      origin: this.#c.nodeId,
    }
    await this.#c.keepRecord(record)
    return record.activationId
  }

  async #runRule(rule: RuleRecord, args: Record<string, unknown>, tick?: Tick): Promise<RuleOutcome> {
    const base = {
      rule: `${rule.namespace}/${rule.name}`,
      action: `${rule.action.namespace}/${rule.action.name}`,
    }
    const runId = tick ? ruleRunId(tick.activationId, base.rule) : undefined
    try {
      if (runId && tick?.check) {
        const found = await this.#c.findRecord(runId, AbortSignal.timeout(5000)).catch(() => null)
        if (found) return { ...base, statusCode: 0, success: true, activationId: runId }
      }
      const activationId = await this.#c.invokeAsync(rule.action.name, args, rule.action.namespace, runId)
      return { ...base, statusCode: 0, success: true, activationId }
    } catch (err) {
      const e = err as { status?: number; message?: string }
      // OpenWhisk's codes: 1 an application error (the action is missing, say), 3 a whisk error.
      const statusCode = (e.status ?? 500) >= 500 ? 3 : 1
      this.#c.logger.warn({ err, rule: base.rule }, 'a rule could not start its action')
      return { ...base, statusCode, success: false, error: e.message ?? String(err) }
    }
  }

  /** An activation record by id from here or its owners (a trigger activation, a rule's run), or null. */
  findRecord(activationId: string, signal: AbortSignal): Promise<ActivationRecord | null> {
    return this.#c.findRecord(activationId, signal)
  }

  listRules(namespace: string): Promise<RuleRecord[]> {
    return this.#c.store.events.rules(namespace)
  }

  async getRule(namespace: string, name: string): Promise<RuleRecord> {
    const r = await this.#c.store.events.rule(namespace, checkName(name, 'rule'))
    if (!r || r.deleted) throw errors.notFound(`rule '${name}' does not exist in namespace '${namespace}'`)
    return r
  }

  /**
   * Creates (active) or, with `overwrite`, updates a rule. Its trigger must exist in the rule's
   * namespace and its action must resolve (the caller's namespace, or a shared package); otherwise
   * nothing is stored.
   */
  async putRule(namespace: string, name: string, body: unknown, overwrite: boolean): Promise<RuleRecord> {
    checkName(name, 'rule')
    const input = parse(ruleInput, body ?? {}, 'invalid rule')
    const old = await this.#c.store.events.rule(namespace, name)
    const live = old && !old.deleted ? old : null
    if (live && !overwrite) throw errors.conflict(`rule '${name}' already exists; update it with overwrite`)
    if (!live && (!input.trigger || !input.action))
      throw errors.invalidArgument('a rule needs a trigger and an action')
    const trigger = input.trigger ? entityName(input.trigger, namespace, 'trigger') : live!.trigger
    const action = input.action ? entityName(input.action, namespace, 'action') : live!.action
    if (trigger.namespace !== namespace)
      throw errors.invalidArgument(`a rule's trigger must be in the rule's namespace '${namespace}'`)
    if (trigger.name.includes('/')) throw errors.invalidArgument(`'${input.trigger}' is not a trigger name`)
    const t = await this.#c.store.events.trigger(trigger.namespace, trigger.name)
    // OpenWhisk's messages for a rule whose trigger or action is missing (nothing is stored).
    if (!t || t.deleted) throw errors.notFound(`trigger /${trigger.namespace}/${trigger.name} does not exist`)
    await this.#c.resolveAction(action.name, action.namespace).catch((err: unknown) => {
      if (toFnError(err).code !== 'NOT_FOUND') throw err
      throw errors.notFound(`action /${action.namespace}/${action.name} does not exist`)
    })
    const record: RuleRecord = {
      type: 'rule',
      namespace,
      name,
      version: (old?.version ?? 0) + 1,
      publish: input.publish ?? live?.publish ?? false,
      annotations: input.annotations ?? live?.annotations ?? {},
      trigger,
      action,
      status: input.status ?? live?.status ?? 'active',
      ...this.#stamp(),
    }
    return this.#write(record)
  }

  async setRuleStatus(namespace: string, name: string, status: unknown): Promise<RuleRecord> {
    const r = await this.getRule(namespace, name)
    if (status !== 'active' && status !== 'inactive')
      throw errors.invalidArgument(`a rule's status is 'active' or 'inactive', not ${JSON.stringify(status)}`)
    if (r.status === status) return r
    return this.#write({ ...r, version: r.version + 1, status, ...this.#stamp() })
  }

  async deleteRule(namespace: string, name: string): Promise<RuleRecord> {
    const r = await this.getRule(namespace, name)
    return this.#write({ ...r, version: r.version + 1, deleted: true, ...this.#stamp() })
  }

  #stamp() {
    return { updated: this.#c.clock.now(), origin: this.#c.nodeId }
  }

  async #write<R extends EventRecord>(record: R): Promise<R> {
    await this.#c.store.events.put(record)
    this.#c.onWrite(record)
    return record
  }
}

/** The id of a rule's run for an alarm tick: the same on every node that fires the tick. */
function ruleRunId(tickActivationId: string, rule: string): string {
  return createHash('sha256').update(`${tickActivationId}/${rule}`).digest('hex').slice(0, 32)
}

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body)
  if (!r.success) throw errors.invalidArgument(describeZodError(r.error, what))
  return r.data
}

function checkName(name: string, what: string): string {
  if (!PART_RE.test(name)) throw errors.invalidArgument(`'${name}' is not a valid ${what} name`)
  return name
}

/**
 * A name as OpenWhisk's clients write it in a rule: `/ns/name`, `/ns/pkg/name` (`_` for the
 * caller's namespace), or `name` / `pkg/name` in the caller's namespace.
 */
export function entityName(
  text: string,
  namespace: string,
  what: string,
): { namespace: string; name: string } {
  let ns = namespace
  let rest = text
  if (text.startsWith('/')) {
    const parts = text.slice(1).split('/')
    if (parts.length < 2) throw errors.invalidArgument(`'${text}' is not a fully qualified ${what} name`)
    ns = parts[0] === '_' ? namespace : parts[0]!
    rest = parts.slice(1).join('/')
  }
  if (!NAMESPACE_RE.test(ns) || !NAME_RE.test(rest))
    throw errors.invalidArgument(`'${text}' is not a valid ${what} name`)
  return { namespace: ns, name: rest }
}
