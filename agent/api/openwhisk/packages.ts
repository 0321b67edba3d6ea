import type { IncomingMessage } from 'node:http'
import { z } from 'zod'
import { describeZodError } from '../../functions/input.ts'
import { hlcWall } from '../../store/hlc.ts'
import { keyValueSchema, type PackageRecord } from '../../store/index.ts'
import { fromPairs, toPairs } from './actions.ts'
import { readJsonBody } from './body.ts'
import type { ApiContext, OpenWhiskApiInit, Reply } from './components.ts'
import { checkEntityName, notInCollection } from './names.ts'
import { queryFlag, queryInt } from './query.ts'
import { OwError } from './reply.ts'

/** A package in OpenWhisk's JSON shape (`WhiskPackage.toJson`); `binding` is `{}` for a package. */
function toOwPackage(p: PackageRecord) {
  return {
    namespace: p.namespace,
    name: p.name,
    version: `0.0.${p.version}`,
    publish: p.publish,
    binding: p.binding ?? {},
    annotations: [
      ...toPairs(p.annotations).filter((a) => a.key !== 'binding'),
      ...(p.binding ? [{ key: 'binding', value: p.binding }] : []),
    ],
    parameters: toPairs(p.parameters),
    updated: hlcWall(p.updated),
  }
}

const putSchema = z.object({
  namespace: z.string().optional(),
  name: z.string().optional(),
  version: z.string().optional(),
  publish: z.boolean().optional(),
  parameters: z.array(keyValueSchema).optional(),
  annotations: z.array(keyValueSchema).optional(),
  binding: z.object({ namespace: z.string().min(1), name: z.string().min(1) }).optional(),
})

/** `…/packages[/{name}]` for the caller's namespace: list, get, put (create/update, bind), delete. */
export async function packagesRoute(
  c: ApiContext,
  init: OpenWhiskApiInit,
  req: IncomingMessage,
  name: string | undefined,
  q: URLSearchParams,
  namespace: string,
): Promise<Reply> {
  const method = req.method ?? 'GET'
  if (name === undefined) {
    if (method !== 'GET') throw new OwError(404, 'The requested resource does not exist.')
    const limit = queryInt(q, 'limit', 30, 0, 200, 'packages')
    const skip = queryInt(q, 'skip', 0, 0, Number.MAX_SAFE_INTEGER, 'packages')
    const all = await c.packages.list(namespace)
    if (queryFlag(q, 'count')) return { status: 200, body: { packages: all.length } }
    return { status: 200, body: all.slice(skip, limit === 0 ? undefined : skip + limit).map(toOwPackage) }
  }
  checkEntityName(name)
  if (name.includes('/')) throw new OwError(400, 'The name of the entity contains illegal characters.')
  const other = notInCollection(c.functions, namespace, name)
  switch (method) {
    case 'GET': {
      const p = await c.packages.get(namespace, name).catch(other)
      const actions = (await c.packages.actions(p)).map((f) => ({
        name: f.name.slice(f.name.indexOf('/') + 1),
        version: `0.0.${f.version}`,
        annotations: toPairs(f.annotations),
      }))
      return { status: 200, body: { ...toOwPackage(p), actions, feeds: [] } }
    }
    case 'PUT': {
      const parsed = putSchema.safeParse(await readJsonBody(req, init.maxBodyBytes))
      if (!parsed.success)
        throw new OwError(400, describeZodError(parsed.error, 'The request content was malformed:'))
      const { publish, parameters, annotations, binding } = parsed.data
      const input = {
        ...(publish !== undefined ? { publish } : {}),
        ...(parameters ? { parameters: fromPairs(parameters) } : {}),
        ...(annotations ? { annotations: fromPairs(annotations) } : {}),
        // wsk may write the namespace as `/ns`; `_` names the caller's (PackageService).
        ...(binding
          ? { binding: { namespace: binding.namespace.replace(/^\//, ''), name: binding.name } }
          : {}),
      }
      const record = await c.packages.put(namespace, name, input, queryFlag(q, 'overwrite'))
      return { status: 200, body: toOwPackage(record) }
    }
    case 'DELETE':
      return { status: 200, body: toOwPackage(await c.packages.remove(namespace, name).catch(other)) }
    default:
      throw new OwError(405, 'HTTP method not allowed, supported methods: GET, PUT, DELETE', {
        allow: 'GET, PUT, DELETE',
      })
  }
}
