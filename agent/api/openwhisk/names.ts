import { toFnError } from '../../errors.ts'
import { ACTIVATION_ID_RE, NAME_PART } from '../../store/index.ts'
import { MESSAGES, OwError } from './reply.ts'

const MAX_NAME = 256
const PART_RE = new RegExp(`^${NAME_PART}$`)

/**
 * An action name from the path (`name` or `package/name`), or 400 with OpenWhisk's messages: a part
 * over 256 characters is too long, any other bad part has illegal characters.
 */
export function checkEntityName(name: string): void {
  const parts = name.split('/')
  if (parts.length > 2) throw new OwError(400, MESSAGES.nameIllegal)
  for (const part of parts) {
    if (part.length > MAX_NAME) throw new OwError(400, MESSAGES.nameTooLong(part.length, MAX_NAME))
    if (!PART_RE.test(part)) throw new OwError(400, MESSAGES.nameIllegal)
  }
}

/** An activation id from the path: 32 hex digits, or 400 with OpenWhisk's messages. */
export function checkActivationId(id: string): void {
  if (id.length !== 32) throw new OwError(400, MESSAGES.activationIdLength(id.length))
  if (!ACTIVATION_ID_RE.test(id)) throw new OwError(400, MESSAGES.activationIdIllegal)
}

/**
 * For a package, trigger or rule that is not found: if an action has that name, OpenWhisk's 409
 * ("exists but is not in this collection": its entities share one name space); else the error as is.
 */
export function notInCollection(
  functions: { get(name: string, namespace: string): Promise<unknown> },
  namespace: string,
  name: string,
): (err: unknown) => Promise<never> {
  return async (err) => {
    if (toFnError(err).code !== 'NOT_FOUND') throw err
    const isAction = await functions.get(name, namespace).then(
      () => true,
      () => false,
    )
    throw isAction ? new OwError(409, MESSAGES.conformance) : err
  }
}
