import { errors } from '../errors.ts'
import { type FunctionRecord, SEQUENCE_MAX_LENGTH } from '../store/index.ts'

/** OpenWhisk's messages for sequences (apache/openwhisk `http/ErrorResponse.scala`). */
export const SEQUENCE_MESSAGES = {
  tooLong: 'Too many actions in the sequence.',
  noComponent: 'No component specified for the sequence.',
  cyclic: 'Sequence may not refer to itself.',
  componentNotFound: 'Sequence component does not exist.',
  failed: 'Sequence failed.',
  compositionTooLong: 'Too many actions in the composition.',
  compositionFailed: 'Activation failure during composition.',
} as const

/** Reads a live function of this namespace, `null` when there is none. */
export type ReadFunction = (name: string) => Promise<FunctionRecord | null>

/**
 * Checks a sequence before it is written, as OpenWhisk does: at least one component and at most
 * SEQUENCE_MAX_LENGTH atomic actions once nested sequences are inlined, every component present,
 * and none leading back to the sequence itself (directly or through another sequence).
 */
export async function checkSequence(name: string, components: string[], read: ReadFunction): Promise<void> {
  if (components.length === 0) throw errors.invalidSequence(SEQUENCE_MESSAGES.noComponent)
  if (components.length > SEQUENCE_MAX_LENGTH) throw errors.invalidSequence(SEQUENCE_MESSAGES.tooLong)
  const count = await atomicCount(name, components, read)
  if (count > SEQUENCE_MAX_LENGTH) throw errors.invalidSequence(SEQUENCE_MESSAGES.tooLong)
}

async function atomicCount(origin: string, components: string[], read: ReadFunction): Promise<number> {
  if (components.length > SEQUENCE_MAX_LENGTH) throw errors.invalidSequence(SEQUENCE_MESSAGES.tooLong)
  let total = 0
  for (const component of components) {
    if (component === origin) throw errors.invalidSequence(SEQUENCE_MESSAGES.cyclic)
    const fn = await read(component)
    if (!fn) throw errors.invalidSequence(SEQUENCE_MESSAGES.componentNotFound)
    total += fn.kind === 'sequence' ? await atomicCount(origin, fn.components ?? [], read) : 1
    // Stop early: a wide tree of nested sequences is refused without being walked whole.
    if (total > SEQUENCE_MAX_LENGTH) throw errors.invalidSequence(SEQUENCE_MESSAGES.tooLong)
  }
  return total
}
