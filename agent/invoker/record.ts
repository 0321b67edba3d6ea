import { type ActivationRecord, type KeyValue, owVersion } from '../store/types.ts'
import type { ActivationOutcome } from './activation.ts'
import type { InvokeRequest } from './index.ts'
import { containerUser } from './limits.ts'
import { response } from './result.ts'

/** How the activation got its container (annotation `start`). */
export type StartKind = 'warm' | 'prewarmed' | 'cold'

/** What an activation produced (activation.ts), plus how it got its container. */
export interface Outcome extends Omit<ActivationOutcome, 'reusable'> {
  startKind: StartKind
  /** Received → container ready, ms. */
  waitTime: number
}

/** What the invoker tells its activation listeners of each run (`Invoker.onActivation`). */
export interface RanActivation {
  record: ActivationRecord
  start: StartKind
  /** Received → container ready, ms. */
  waitMs: number
  /** The action's `/init`, ms; absent on a warm start. */
  initMs?: number | undefined
}

/** An invoker failure (not the function's): `whisk internal error`. */
export function internalFailure(message: string, startKind: StartKind, received: number): Outcome {
  const now = Date.now()
  return {
    response: response('whisk internal error', { error: message }),
    logs: [],
    start: now,
    end: now,
    timedOut: false,
    startKind,
    waitTime: Math.round(performance.now() - received),
  }
}

/** The full activation record in OpenWhisk's shape, plus where it ran. */
export function buildRecord(
  req: InvokeRequest,
  out: Outcome,
  at: { nodeId: string; hlc: string },
): ActivationRecord {
  const { fn } = req
  const annotations: KeyValue[] = [
    { key: 'path', value: `${fn.namespace}/${fn.name}` },
    { key: 'kind', value: fn.kind },
    { key: 'limits', value: { ...fn.limits } },
    { key: 'waitTime', value: out.waitTime },
    { key: 'start', value: out.startKind },
  ]
  // Who the function ran as, for blackbox images (runtime images always run as their own uid 1000).
  if (fn.kind === 'blackbox') annotations.push({ key: 'user', value: containerUser(fn) ?? 'image' })
  if (out.initTime !== undefined) annotations.push({ key: 'initTime', value: out.initTime })
  if (out.timedOut) annotations.push({ key: 'timeout', value: true })
  if (req.cause) annotations.push({ key: 'causedBy', value: 'sequence' })
  if (req.extraAnnotations) annotations.push(...req.extraAnnotations)
  return {
    ...(req.cause ? { cause: req.cause } : {}),
    activationId: req.activationId,
    // The caller's namespace for a run through a binding to another namespace's package.
    namespace: req.namespace ?? fn.namespace,
    name: fn.name,
    version: owVersion(fn.version),
    subject: req.namespace ?? fn.namespace,
    start: out.start,
    end: out.end,
    duration: out.end - out.start,
    statusCode: out.response.statusCode,
    response: out.response,
    logs: out.logs,
    annotations,
    publish: false,
    node: at.nodeId,
    cold: out.startKind !== 'warm',
    hlc: at.hlc,
    origin: at.nodeId,
  }
}
