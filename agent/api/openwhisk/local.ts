import { z } from 'zod'
import type { Config } from '../../config/index.ts'
import { errors } from '../../errors.ts'
import { describeZodError } from '../../functions/input.ts'
import type { Stamp } from '../../store/api-keys.ts'
import { type ApiKeyRecord, NAMESPACE_RE } from '../../store/index.ts'
import type { AgentApi } from '../routes.ts'
import type { OpenWhiskApiComponents } from './components.ts'
import type { ApiKeyStore } from './keys.ts'
import type { OpenWhiskApiServer } from './server.ts'

const createSchema = z
  .object({
    description: z.string().max(200).optional(),
    namespace: z
      .string()
      .regex(NAMESPACE_RE, 'a namespace: letters, digits, _ . @ -, starting with a letter, digit or _')
      .refine((ns) => ns !== '_', "'_' means the caller's namespace; name one")
      .optional(),
  })
  .strict()

export interface ApiKeyRoutesComponents {
  keys: ApiKeyStore
  /** This node's clock and id, stamping each key write for last-writer-wins. */
  stamp: () => Stamp
  /** After a local create or revocation (replication pushes it to every peer). */
  onWrite: (record: ApiKeyRecord) => void
  /** The namespace of a key made without `--namespace` (`config.namespace`). */
  namespace: string
}

/** The local-socket routes behind `fnagent auth create|list|revoke`. */
export function apiKeyRoutes(
  c: ApiKeyRoutesComponents,
  server?: () => OpenWhiskApiServer | null,
): AgentApi['auth'] {
  return {
    create: async (body) => {
      const parsed = createSchema.safeParse(body ?? {})
      if (!parsed.success) throw errors.invalidArgument(describeZodError(parsed.error, 'invalid key request'))
      const { description, namespace = c.namespace } = parsed.data
      const { info, auth, record } = await c.keys.create({ namespace, description }, c.stamp())
      c.onWrite(record)
      return { ...info, auth, apihost: server?.()?.address?.url ?? null }
    },
    list: () => c.keys.list(),
    revoke: async (uuid) => {
      const { info, record } = await c.keys.revoke(uuid, c.stamp())
      c.onWrite(record)
      return info
    },
  }
}

/**
 * Builds the listener from the agent's config, or null when `openwhiskApi.listen` is not set: the REST API
 * and web action modules are loaded only by an agent that serves them.
 */
export async function createOpenWhiskApi(
  components: OpenWhiskApiComponents,
  config: Config,
): Promise<OpenWhiskApiServer | null> {
  if (!config.openwhiskApi.listen) return null
  const { OpenWhiskApiServer } = await import('./server.ts')
  return new OpenWhiskApiServer(components, {
    ...config.openwhiskApi,
    namespace: config.namespace,
    maxPayloadBytes: config.invoker.maxPayloadBytes,
  })
}
