import { z } from 'zod'
import type { Config } from '../../config/index.ts'
import { errors } from '../../errors.ts'
import { describeZodError } from '../../functions/input.ts'
import type { AgentApi } from '../routes.ts'
import type { OpenWhiskApiComponents } from './components.ts'
import type { ApiKeyStore } from './keys.ts'
import type { OpenWhiskApiServer } from './server.ts'

const createSchema = z.object({ description: z.string().max(200).optional() }).strict()

/** The local-socket routes behind `fnagent auth create|list|revoke`. */
export function apiKeyRoutes(keys: ApiKeyStore, server?: () => OpenWhiskApiServer | null): AgentApi['auth'] {
  return {
    create: async (body) => {
      const parsed = createSchema.safeParse(body ?? {})
      if (!parsed.success) throw errors.invalidArgument(describeZodError(parsed.error, 'invalid key request'))
      const { info, auth } = await keys.create(parsed.data.description)
      return { ...info, auth, apihost: server?.()?.address?.url ?? null }
    },
    list: () => keys.list(),
    revoke: (uuid) => keys.revoke(uuid),
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
