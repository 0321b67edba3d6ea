import { HybridClock } from '../../agent/store/hlc.ts'
import { DEFAULT_LIMITS, type FunctionRecord } from '../../agent/store/types.ts'

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
