import { randomBytes } from 'node:crypto'
import { HybridClock } from '../../agent/store/hlc.ts'
import { type ActivationRecord, DEFAULT_LIMITS, type FunctionRecord } from '../../agent/store/types.ts'

const clock = new HybridClock()

/** A valid function record (guest/hello, version 1, Node.js), fields overridden by `fields`. */
export function functionRecord(fields: Partial<FunctionRecord> = {}): FunctionRecord {
  const now = clock.now()
  return {
    namespace: 'guest',
    name: 'hello',
    version: 1,
    kind: 'nodejs:24',
    main: 'main',
    binary: false,
    codeSize: 0,
    parameters: {},
    annotations: {},
    env: {},
    limits: DEFAULT_LIMITS,
    created: now,
    updated: now,
    origin: 'test',
    ...fields,
  }
}

/** A valid activation record of guest/`name` that started at `start`, as the node `node` stores it. */
export function activationRecord(fields: Partial<ActivationRecord> = {}): ActivationRecord {
  const start = fields.start ?? Date.now()
  return {
    activationId: randomBytes(16).toString('hex'),
    namespace: 'guest',
    name: 'hello',
    version: '0.0.1',
    subject: 'guest',
    start,
    end: start + 5,
    duration: 5,
    statusCode: 0,
    response: { status: 'success', statusCode: 0, success: true, result: { ok: true } },
    logs: [],
    annotations: [],
    publish: false,
    node: 'test',
    cold: false,
    hlc: clock.now(),
    origin: 'test',
    ...fields,
  }
}
