import { SEQUENCE_MESSAGES } from '../functions/index.ts'
import type { Logger } from '../log.ts'
import {
  type ActivationRecord,
  type ActivationStatus,
  type FunctionRecord,
  type KeyValue,
  NAME_RE,
  newActivationId,
  owVersion,
  SEQUENCE_MAX_LENGTH,
  statusCode,
} from '../store/index.ts'

type Response = ActivationRecord['response']
type Params = Record<string, unknown>

export interface CompositionComponents {
  logger: Logger
  /**
   * What `name` of `namespace` runs: the live function and its package's parameters to merge
   * beneath its own; `null` when there is none.
   */
  read: (name: string, namespace: string) => Promise<{ fn: FunctionRecord; defaults: Params } | null>
  /**
   * Runs one action to its end wherever placement puts it (each component on its own, so warm
   * containers are used per component) and keeps its record; throws when nothing ran.
   */
  runAction: (fn: FunctionRecord, params: Params, cause: string, apiKey?: string) => Promise<ActivationRecord>
  /** Stores and replicates the record of a nested composition. */
  keep: (record: ActivationRecord) => Promise<void>
  nodeId: string
  hlc: () => string
}

/** One invocation of a topmost composition: its id (every derived record's `cause`) and its counts. */
interface Session {
  cause: string
  /** Atomic actions run so far, nested sequences and conductors included. */
  actions: number
  /** Conductor activations so far. */
  conductors: number
  apiKey?: string
}

/** One composition's activation: its id, when it was received, its session, and whether it is topmost. */
interface At {
  activationId: string
  received: number
  session: Session
  topmost: boolean
}

/** What a composition adds up while it runs (OpenWhisk's `SequenceAccounting`). */
interface Tally {
  logs: string[]
  duration: number
  maxMemory: number
}

/** A truthy `conductor` annotation (OpenWhisk: anything but 0, null, false and ""); never on a sequence. */
export function isConductor(fn: FunctionRecord): boolean {
  const v = fn.annotations.conductor
  return fn.kind !== 'sequence' && v !== undefined && v !== null && v !== false && v !== 0 && v !== ''
}

/** A sequence or a conductor action: the agent runs it, not a container. */
export function isComposition(fn: FunctionRecord): boolean {
  return fn.kind === 'sequence' || isConductor(fn)
}

const response = (status: ActivationStatus, result: unknown): Response => {
  const code = statusCode(status)
  return { status, statusCode: code, success: code === 0, result }
}

const isObject = (v: unknown): v is Params => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Runs sequences (each component's output is the next one's input; an error stops the chain) and
 * conductor actions (the conductor names the next action until it names none), as OpenWhisk's
 * controller does (`SequenceActions`, `PrimitiveActions.invokeComposition`). Every component runs
 * as an ordinary activation through placement, with `cause` set to the topmost composition; the
 * composition's own record lists the component ids in its logs. See docs/composition.md.
 */
export class Composer {
  readonly #c: CompositionComponents

  constructor(components: CompositionComponents) {
    this.#c = components
  }

  /**
   * Runs a topmost composition and returns its record (the caller stores it). `received` is when
   * the invocation arrived (the `waitTime` annotation counts from there).
   */
  run(fn: FunctionRecord, params: Params, activationId: string, received: number, apiKey?: string) {
    const session: Session = { cause: activationId, actions: 0, conductors: 0, ...(apiKey ? { apiKey } : {}) }
    return this.#compose(fn, params, { activationId, received, session, topmost: true })
  }

  #compose(fn: FunctionRecord, params: Params, at: At): Promise<ActivationRecord> {
    return fn.kind === 'sequence' ? this.#sequence(fn, params, at) : this.#conductor(fn, params, at)
  }

  async #sequence(seq: FunctionRecord, params: Params, at: At): Promise<ActivationRecord> {
    const { session } = at
    const start = Date.now()
    const tally: Tally = { logs: [], duration: 0, maxMemory: 0 }
    let last = response('success', params)
    for (const name of seq.components ?? []) {
      if (session.actions >= SEQUENCE_MAX_LENGTH) {
        last = response('application error', { error: SEQUENCE_MESSAGES.tooLong })
        break
      }
      const found = await this.#c.read(name, seq.namespace)
      if (!found) {
        last = response('application error', { error: SEQUENCE_MESSAGES.componentNotFound })
        break
      }
      const { fn, defaults } = found
      // The previous result is the next input; anything but an object gives the component only its own parameters.
      const input = { ...defaults, ...fn.parameters, ...(isObject(last.result) ? last.result : {}) }
      const rec = await this.#component(fn, input, session)
      if (!rec) {
        last = response('whisk internal error', { error: SEQUENCE_MESSAGES.failed })
        break
      }
      add(tally, rec)
      last = rec.response
      if (!last.success || (isObject(last.result) && 'error' in last.result)) break
    }
    return this.#record(seq, at, { start, tally, response: last })
  }

  async #conductor(conductor: FunctionRecord, params: Params, at: At): Promise<ActivationRecord> {
    const { session } = at
    const start = Date.now()
    const tally: Tally = { logs: [], duration: 0, maxMemory: conductor.limits.memory }
    const done = (last: Response) => this.#record(conductor, at, { start, tally, response: last })
    let state: Params | undefined
    let input: Params = params
    for (;;) {
      if (session.conductors > 2 * SEQUENCE_MAX_LENGTH) {
        return done(response('application error', { error: SEQUENCE_MESSAGES.compositionTooLong }))
      }
      session.conductors++
      const step = await this.#run(conductor, { ...conductor.parameters, ...input, ...state }, session)
      if (!step) return done(response('whisk internal error', { error: SEQUENCE_MESSAGES.compositionFailed }))
      add(tally, step)
      const result = isObject(step.response.result) ? step.response.result : {}
      const next = boxed(result.params, 'value')
      state = boxed(result.state, 'state')
      if (!('action' in result)) return done({ ...step.response, result: next ?? result })
      const name =
        typeof result.action === 'string' ? componentName(result.action, conductor.namespace) : null
      if (name === null) {
        input = {
          error: `Failed to parse action name from json value ${JSON.stringify(result.action)} during composition.`,
        }
        continue
      }
      if (session.actions >= SEQUENCE_MAX_LENGTH) {
        input = { error: SEQUENCE_MESSAGES.compositionTooLong }
        continue
      }
      const found = await this.#c.read(name, conductor.namespace)
      if (!found) {
        input = {
          error: `Failed to resolve action with name '${conductor.namespace}/${name}' during composition.`,
        }
        continue
      }
      const { fn, defaults } = found
      const rec = await this.#component(fn, { ...defaults, ...fn.parameters, ...next }, session)
      if (!rec) return done(response('whisk internal error', { error: SEQUENCE_MESSAGES.compositionFailed }))
      add(tally, rec)
      input = isObject(rec.response.result) ? rec.response.result : {}
    }
  }

  /**
   * One component: a nested composition (its record kept here) or an action run through placement;
   * `null` when the platform could not run it.
   */
  async #component(fn: FunctionRecord, params: Params, session: Session): Promise<ActivationRecord | null> {
    if (!isComposition(fn)) {
      session.actions++
      return this.#run(fn, params, session)
    }
    const at = { activationId: newActivationId(), received: Date.now(), session, topmost: false }
    const rec = await this.#compose(fn, params, at)
    return this.#c.keep(rec).then(
      () => rec,
      (err: unknown) => this.#failed(err, fn),
    )
  }

  /** An action run to its record, `null` when the platform could not run it. */
  async #run(fn: FunctionRecord, params: Params, session: Session): Promise<ActivationRecord | null> {
    return this.#c
      .runAction(fn, params, session.cause, session.apiKey)
      .catch((err: unknown) => this.#failed(err, fn))
  }

  /** A run the platform could not make (no node took it, the agent is stopping): logged, `null`. */
  #failed(err: unknown, fn: FunctionRecord): null {
    this.#c.logger.warn({ err, fn: fn.name }, 'a composition could not run one of its actions')
    return null
  }

  #record(
    fn: FunctionRecord,
    at: At,
    r: { start: number; tally: Tally; response: Response },
  ): ActivationRecord {
    const { activationId, topmost, session } = at
    const end = Date.now()
    const annotations: KeyValue[] = [
      { key: 'topmost', value: topmost },
      { key: 'path', value: `${fn.namespace}/${fn.name}` },
      ...(fn.kind === 'sequence' ? [] : [{ key: 'conductor', value: true }]),
      { key: 'kind', value: 'sequence' },
      { key: 'limits', value: { ...fn.limits, memory: r.tally.maxMemory || fn.limits.memory } },
      ...(topmost ? [] : [{ key: 'causedBy', value: 'sequence' }]),
      { key: 'waitTime', value: Math.max(0, r.start - at.received) },
    ]
    return {
      ...(topmost ? {} : { cause: session.cause }),
      activationId,
      namespace: fn.namespace,
      name: fn.name,
      version: owVersion(fn.version),
      subject: fn.namespace,
      start: r.start,
      end,
      duration: r.tally.duration,
      statusCode: r.response.statusCode,
      response: r.response,
      logs: r.tally.logs,
      annotations,
      publish: false,
      node: this.#c.nodeId,
      cold: false,
      hlc: this.#c.hlc(),
      origin: this.#c.nodeId,
    }
  }
}

function add(tally: Tally, rec: ActivationRecord): void {
  tally.logs.push(rec.activationId)
  tally.duration += rec.duration
  const limits = rec.annotations.find((a) => a.key === 'limits')?.value as { memory?: unknown } | undefined
  if (typeof limits?.memory === 'number') tally.maxMemory = Math.max(tally.maxMemory, limits.memory)
}

/** A continuation's `params` or `state`: an object as is, anything else boxed as `{[key]: v}`. */
function boxed(v: unknown, key: string): Params | undefined {
  if (v === undefined) return undefined
  return isObject(v) ? v : { [key]: v }
}

/**
 * The function name a conductor's `action` names: `name`, `pkg/name`, or fully qualified
 * `/ns/name`, `/ns/pkg/name` in this namespace (or `_`); `null` for anything else.
 */
export function componentName(action: string, namespace: string): string | null {
  if (!action.startsWith('/')) return NAME_RE.test(action) ? action : null
  const parts = action.slice(1).split('/')
  if (parts.length < 2 || parts.length > 3) return null
  if (parts[0] !== '_' && parts[0] !== namespace) return null
  const name = parts.slice(1).join('/')
  return NAME_RE.test(name) ? name : null
}
