import { type ErrorCode, errors, FnError } from '../errors.ts'
import type { FunctionRecord } from '../store/index.ts'
import type { Reason } from './choose.ts'
import type { ForwardResponse } from './messages.ts'
import type { LocalInvoker } from './service.ts'

export type Refused = Extract<ForwardResponse, { type: 'refused' }>

/** A refusal on the forwarding protocol, built from the catalogue's error (agent/errors.ts). */
export function refused(err: FnError, freeSlots?: number): Refused {
  return freeSlots === undefined
    ? { type: 'refused', code: err.code, message: err.message }
    : { type: 'refused', code: err.code, message: err.message, freeSlots }
}

/**
 * A target's answer from its fresh state, or null to accept: an idle warm container is always
 * taken; asked as `warm`, it refuses without one; as `home` or `load`, it takes the work cold only
 * when that evicts no other function's warm container; as `force` (the sender's last pass), it
 * takes any room: evicting on the first pass, even on a home node, cascades into cold starts
 * (docs/performance.md, "Placement simulator").
 */
export function refusalFor(
  inv: LocalInvoker,
  draining: boolean,
  fn: FunctionRecord,
  reason: Reason,
): FnError | null {
  if (draining) return errors.draining('the node is draining')
  if (!inv.canAccept(fn)) return errors.nodeFull('no memory free for the container')
  if (inv.hasIdleWarm(fn)) return null
  if (reason === 'warm') return errors.notWarm('no idle warm container')
  if (reason !== 'force' && !inv.fitsWithoutEviction(fn)) {
    return errors.wouldEvict('only by evicting a warm container')
  }
  return null
}

/**
 * The refusal as the forwarding protocol answers it (and as this node answers itself), with the
 * target's fresh free slots so that the sender's forced pass can choose where to start cold.
 */
export function refusedAnswer(
  inv: LocalInvoker,
  draining: boolean,
  fn: FunctionRecord,
  reason: Reason,
): Refused | null {
  const refusal = refusalFor(inv, draining, fn, reason)
  return refusal && refused(refusal, inv.freeSlots(fn))
}

/** Invoker failures that mean nothing ran: the node is full, draining, or lacks the runtime. */
const NOTHING_RAN = new Set<ErrorCode>(['NODE_FULL', 'DRAINING', 'RUNTIME_MISSING'])

/**
 * Runs `invoke` after the target accepted, turning a failure that means nothing ran into a refusal:
 * between the check and the start another request can take the last room (concurrent requests
 * from several senders, or several on one channel), and the sender should try the next candidate
 * rather than report the activation lost.
 */
export async function invokeOrRefuse<R>(
  inv: LocalInvoker,
  fn: FunctionRecord,
  invoke: () => Promise<R>,
): Promise<{ type: 'done'; record: R } | Refused> {
  try {
    return { type: 'done', record: await invoke() }
  } catch (err) {
    if (err instanceof FnError && NOTHING_RAN.has(err.code)) return refused(err, inv.freeSlots(fn))
    throw err
  }
}

/**
 * The order of the sender's forced pass over its soft refusers: the most free slots first, list
 * order on ties, refusers that did not say last. The freest node evicts a container
 * its own traffic needs least, as a central scheduler's "least busy node" would (measured against
 * list order and against the view's free slots in docs/performance.md, "Placement simulator").
 */
export function forcedOrder<T extends { freeSlots?: number | undefined }>(soft: readonly T[]): T[] {
  return [...soft].sort((a, b) => (b.freeSlots ?? -1) - (a.freeSlots ?? -1))
}
