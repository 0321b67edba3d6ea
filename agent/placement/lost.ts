import type { RunRequest } from '../activations/index.ts'
import type { Hlc } from '../store/hlc.ts'
import { type ActivationRecord, owVersion, statusCode } from '../store/index.ts'
import type { PlacementExplain } from './messages.ts'

/**
 * The record of an activation whose node died while running it (the function is not retry-safe):
 * a `whisk internal error` naming the node, kept by the node that received the invocation.
 */
export function lostRecord(
  req: RunRequest,
  peerId: string,
  message: string,
  explain: PlacementExplain,
  hlc: Hlc,
  origin: string,
): ActivationRecord {
  const now = Date.now()
  const status = 'whisk internal error' as const
  return {
    ...(req.cause ? { cause: req.cause } : {}),
    activationId: req.activationId,
    namespace: req.namespace ?? req.fn.namespace,
    name: req.fn.name,
    version: owVersion(req.fn.version),
    subject: req.namespace ?? req.fn.namespace,
    start: now,
    end: now,
    duration: 0,
    statusCode: statusCode(status),
    response: {
      status,
      statusCode: statusCode(status),
      success: false,
      result: {
        error: `node ${peerId} was lost while running the activation (${message}); the function is not marked retry-safe (annotation retry true), so it was not retried`,
      },
    },
    logs: [],
    annotations: [
      { key: 'path', value: `${req.fn.namespace}/${req.fn.name}` },
      { key: 'kind', value: req.fn.kind },
      { key: 'limits', value: req.fn.limits },
      { key: 'placement', value: { ...explain, lostNode: peerId } },
    ],
    publish: false,
    node: peerId,
    cold: false,
    hlc,
    origin,
  }
}
