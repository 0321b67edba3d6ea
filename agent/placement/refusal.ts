import { errors, FnError } from '../errors.ts'
import type { FunctionRecord } from '../store/index.ts'
import type { Reason } from './choose.ts'
import type { LocalInvoker } from './service.ts'

/**
 * A target's answer from its fresh state, or null to accept: an idle warm container is always
 * taken; asked as `warm`, it refuses without one; as `home` or `load`, it takes the work cold only
 * when that evicts no other function's warm container; as `force` (the sender's last pass), it
 * takes any room. (Measured in the simulator: evicting on the first pass, even on a home node,
 * cascades into cold starts; refusing, then forcing only on a last pass, does not —
 * docs/performance.md.)
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
  if (reason === 'warm') return new FnError('NOT_WARM', 'no idle warm container', { status: 409 })
  if (reason !== 'force' && !inv.fitsWithoutEviction(fn)) {
    return new FnError('WOULD_EVICT', 'only by evicting a warm container', { status: 409 })
  }
  return null
}
