import type { FnError } from '../errors.ts'
import type { HybridClock } from '../store/hlc.ts'
import { type ActivationRecord, type FunctionRecord, owVersion, statusCode } from '../store/index.ts'

/** Who writes a record: the node and its clock. */
export interface RecordWriter {
  nodeId: string
  clock: HybridClock
}

/** A `whisk internal error` record of an activation that failed inside the agent. */
export function internalErrorRecord(
  w: RecordWriter,
  fn: FunctionRecord,
  activationId: string,
  start: number,
  err: FnError,
  /** The activation's namespace when not the function's (a run through a binding; RunRequest.namespace). */
  owner?: string,
): ActivationRecord {
  const end = Date.now()
  return {
    activationId,
    namespace: owner ?? fn.namespace,
    name: fn.name,
    version: owVersion(fn.version),
    subject: owner ?? fn.namespace,
    start,
    end,
    duration: end - start,
    statusCode: statusCode('whisk internal error'),
    response: {
      status: 'whisk internal error',
      statusCode: statusCode('whisk internal error'),
      success: false,
      result: { error: err.message },
    },
    logs: [],
    annotations: [
      { key: 'path', value: `${fn.namespace}/${fn.name}` },
      { key: 'kind', value: fn.kind },
      { key: 'limits', value: fn.limits },
    ],
    publish: false,
    node: w.nodeId,
    cold: false,
    hlc: w.clock.now(),
    origin: w.nodeId,
  }
}
