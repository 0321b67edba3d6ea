import type { IncomingMessage, ServerResponse } from 'node:http'
import Router from 'find-my-way'
import { errors } from '../errors.ts'
import {
  type ActivationQuery,
  type ActivationRecord,
  type FunctionRecord,
  MAX_SCAN,
  type NamespaceLimits,
  type PackageRecord,
  type RuleRecord,
  type TriggerRecord,
} from '../store/index.ts'
import { intParam, readJson, sendJson, streamNdjson } from './http.ts'

/** What the local API needs from the agent (implemented by the composition root). */
export interface AgentApi {
  status(): Promise<unknown>
  /** Roots of this node's function-metadata and activation-record digests (equal on nodes holding the same data). */
  digests(): Promise<{ functions: string; activations: string }>
  config(): unknown
  /**
   * `ns`: the namespace the CLI's `--namespace` names (header `x-fnagent-namespace`); this node's
   * namespace when absent. An operator on the socket may act on any namespace that has a key.
   */
  functions: {
    list(ns?: string): Promise<FunctionRecord[]>
    /** Secret values redacted unless `reveal` (`fn get --show-secrets`). */
    get(name: string, ns?: string, reveal?: boolean): Promise<FunctionRecord>
    put(
      name: string,
      body: unknown,
      ns?: string,
    ): Promise<{ record: FunctionRecord; created: boolean; copies?: number }>
    /** Answers the tombstone written (`deleted: true`, its stamp and version). */
    remove(name: string, ns?: string): Promise<FunctionRecord>
    versions(name: string, ns?: string): Promise<FunctionRecord[]>
    /** Makes version `version` current (a new version with its content). */
    rollback(name: string, version: number, ns?: string): Promise<FunctionRecord>
  }
  /** Packages and bindings (`fnagent package …`); a put body may carry `overwrite: true`. */
  packages: {
    list(ns?: string): Promise<PackageRecord[]>
    get(name: string, ns?: string): Promise<PackageRecord>
    put(name: string, body: unknown, ns?: string): Promise<PackageRecord>
    remove(name: string, ns?: string): Promise<PackageRecord>
  }
  /** Per-namespace limits (`fnagent namespace limits`), replicated with the namespace. */
  namespaces: {
    limits(ns: string): Promise<NamespaceLimits>
    /** Replaces the namespace's limits (`{concurrent?, perMinute?}`; absent = none). */
    setLimits(ns: string, body: unknown): Promise<NamespaceLimits>
  }
  /** Triggers and rules (`fnagent trigger …`, `fnagent rule …`); a put body may carry `overwrite: true`. */
  triggers: {
    list(ns?: string): Promise<TriggerRecord[]>
    get(name: string, ns?: string): Promise<TriggerRecord & { rules: RuleRecord[] }>
    put(name: string, body: unknown, ns?: string): Promise<TriggerRecord>
    remove(name: string, ns?: string): Promise<TriggerRecord>
    /** The trigger activation's id, or null when no active rule names the trigger. */
    fire(name: string, payload: unknown, ns?: string): Promise<{ activationId: string | null }>
    /**
     * The trigger's webhook (`{rotate?, remove?}`): its path and secret, made on first use; null
     * once removed.
     */
    webhook(
      name: string,
      body: unknown,
      ns?: string,
    ): Promise<{ path: string; secret: string; created: boolean } | null>
  }
  rules: {
    list(ns?: string): Promise<RuleRecord[]>
    get(name: string, ns?: string): Promise<RuleRecord>
    put(name: string, body: unknown, ns?: string): Promise<RuleRecord>
    remove(name: string, ns?: string): Promise<RuleRecord>
    setStatus(name: string, status: unknown, ns?: string): Promise<RuleRecord>
  }
  invoke(name: string, body: unknown, ns?: string): Promise<{ status: number; body: unknown }>
  activations: {
    /** Every namespace's records when `ns` is absent. */
    list(q: ActivationQuery & { cluster?: boolean }, ns?: string): Promise<ActivationRecord[]>
    get(id: string, ns?: string): Promise<ActivationRecord>
    /** Where an async activation stands: queued, running, attempts, done or dead. */
    job(id: string): Promise<unknown>
    /** The dead letters held here (failed queued jobs), newest first. */
    dead(limit: number): Promise<ActivationRecord[]>
    /** Runs a dead letter's job again as a new job (202 with the new id). */
    replay(id: string): Promise<{ status: number; body: unknown }>
  }
  /** The durable async queue on this node and, as each node gossips it, the cluster. */
  queue(): Promise<unknown>
  /** OpenWhisk API keys (agent/api/openwhisk): create shows the plain key once. */
  auth?: {
    create(body: unknown): Promise<unknown>
    list(): Promise<unknown>
    revoke(uuid: string): Promise<unknown>
  }
  peers(): Promise<unknown>
  join(body: unknown): Promise<unknown>
  leave(): Promise<unknown>
  /** The cluster-wide log tail (`fnagent logs -f`): calls `emit` until `signal` aborts. */
  followLogs?(q: { fn?: string }, signal: AbortSignal, emit: (event: unknown) => void): Promise<void>
  /** Every member with its load and activation counts (`fnagent top`). */
  top?(): Promise<unknown>
}

type Handler = (
  req: IncomingMessage,
  params: Record<string, string | undefined>,
  query: Record<string, string>,
  res: ServerResponse,
) => Promise<{ status: number; body: unknown }>

const ok = (body: unknown, status = 200) => ({ status, body })
const fail = (err: Error): never => {
  throw err
}

/** Body limits: `maxBodyBytes` for a function PUT (its code), `maxPayloadBytes` for every other body. */
export function buildRouter(api: AgentApi, limits: { maxBodyBytes: number; maxPayloadBytes: number }) {
  const router = Router({ ignoreTrailingSlash: true, defaultRoute: () => {} })
  const route = (method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, handler: Handler) => {
    router.on(method, path, (req, res, params, _store, query) => {
      ;(res as ServerResponse & { fnHandler?: Promise<{ status: number; body: unknown }> }).fnHandler =
        handler(req as IncomingMessage, params, query, res as ServerResponse)
    })
  }
  const body = (req: IncomingMessage) => readJson(req, limits.maxPayloadBytes)
  const name = (p: Record<string, string | undefined>) => p.name ?? ''
  const ns = (req: IncomingMessage) => {
    const h = req.headers['x-fnagent-namespace']
    return typeof h === 'string' && h !== '' ? h : undefined
  }

  route('GET', '/v1/status', async () => ok(await api.status()))
  route('GET', '/v1/config', async () => ok(api.config()))
  route('GET', '/v1/functions', async (req) => ok(await api.functions.list(ns(req))))
  route('GET', '/v1/functions/:name', async (req, p, q) =>
    ok(await api.functions.get(name(p), ns(req), q.showSecrets === 'true')),
  )
  route('PUT', '/v1/functions/:name', async (req, p) => {
    const r = await api.functions.put(name(p), await readJson(req, limits.maxBodyBytes), ns(req))
    return ok(r.copies === undefined ? r.record : { ...r.record, copies: r.copies }, r.created ? 201 : 200)
  })
  route('DELETE', '/v1/functions/:name', async (req, p) => ok(await api.functions.remove(name(p), ns(req))))
  route('GET', '/v1/functions/:name/versions', async (req, p) =>
    ok(await api.functions.versions(name(p), ns(req))),
  )
  route('POST', '/v1/functions/:name/rollback', async (req, p) => {
    const { version } = ((await body(req)) ?? {}) as { version?: unknown }
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 1)
      throw errors.invalidArgument('rollback needs {"version": N}, a version number')
    return ok(await api.functions.rollback(name(p), version, ns(req)))
  })
  route('POST', '/v1/functions/:name/invoke', async (req, p) => api.invoke(name(p), await body(req), ns(req)))
  route('GET', '/v1/namespaces/:ns/limits', async (_r, p) => ok(await api.namespaces.limits(p.ns ?? '')))
  route('PUT', '/v1/namespaces/:ns/limits', async (req, p) =>
    ok(await api.namespaces.setLimits(p.ns ?? '', await body(req))),
  )
  route('GET', '/v1/packages', async (req) => ok(await api.packages.list(ns(req))))
  route('GET', '/v1/packages/:name', async (req, p) => ok(await api.packages.get(name(p), ns(req))))
  route('PUT', '/v1/packages/:name', async (req, p) =>
    ok(await api.packages.put(name(p), await body(req), ns(req))),
  )
  route('DELETE', '/v1/packages/:name', async (req, p) => ok(await api.packages.remove(name(p), ns(req))))
  route('GET', '/v1/triggers', async (req) => ok(await api.triggers.list(ns(req))))
  route('GET', '/v1/triggers/:name', async (req, p) => ok(await api.triggers.get(name(p), ns(req))))
  route('PUT', '/v1/triggers/:name', async (req, p) =>
    ok(await api.triggers.put(name(p), await body(req), ns(req))),
  )
  route('DELETE', '/v1/triggers/:name', async (req, p) => ok(await api.triggers.remove(name(p), ns(req))))
  route('POST', '/v1/triggers/:name/fire', async (req, p) => {
    const r = await api.triggers.fire(name(p), (await body(req)) ?? {}, ns(req))
    return ok(r, r.activationId === null ? 200 : 202)
  })
  route('POST', '/v1/triggers/:name/webhook', async (req, p) =>
    ok(await api.triggers.webhook(name(p), (await body(req)) ?? {}, ns(req))),
  )
  route('GET', '/v1/rules', async (req) => ok(await api.rules.list(ns(req))))
  route('GET', '/v1/rules/:name', async (req, p) => ok(await api.rules.get(name(p), ns(req))))
  route('PUT', '/v1/rules/:name', async (req, p) =>
    ok(await api.rules.put(name(p), await body(req), ns(req))),
  )
  route('DELETE', '/v1/rules/:name', async (req, p) => ok(await api.rules.remove(name(p), ns(req))))
  route('POST', '/v1/rules/:name/status', async (req, p) => {
    const { status } = ((await body(req)) ?? {}) as { status?: unknown }
    return ok(await api.rules.setStatus(name(p), status, ns(req)))
  })
  route('GET', '/v1/activations', async (req, _p, q) => {
    const since = intParam(q, 'since', 0, Number.MAX_SAFE_INTEGER)
    const upto = intParam(q, 'upto', 0, Number.MAX_SAFE_INTEGER)
    const query: ActivationQuery & { cluster?: boolean } = {
      limit: intParam(q, 'limit', 1, 200) ?? 30,
      skip: intParam(q, 'skip', 0, MAX_SCAN) ?? 0,
      ...(q.name ? { name: q.name } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(upto !== undefined ? { upto } : {}),
      ...(q.cluster === 'true' ? { cluster: true } : {}),
    }
    if (q.dead === 'true') return ok(await api.activations.dead(query.limit ?? 30))
    return ok(await api.activations.list(query, ns(req)))
  })
  route('GET', '/v1/activations/:id/job', async (_r, p) => ok(await api.activations.job(p.id ?? '')))
  route('POST', '/v1/activations/:id/replay', async (_r, p) => api.activations.replay(p.id ?? ''))
  route('GET', '/v1/queue', async () => ok(await api.queue()))
  route('GET', '/v1/activations/:id', async (req, p) => ok(await api.activations.get(p.id ?? '', ns(req))))
  route('GET', '/v1/activations/:id/result', async (req, p) => {
    const a = await api.activations.get(p.id ?? '', ns(req))
    return ok(a.response.result ?? {})
  })
  route('GET', '/v1/activations/:id/logs', async (req, p) => {
    const a = await api.activations.get(p.id ?? '', ns(req))
    return ok({ logs: a.logs })
  })
  const auth = () => api.auth ?? fail(errors.unavailable('this agent has no API key store'))
  route('POST', '/v1/auth/keys', async (req) => ok(await auth().create(await body(req)), 201))
  route('GET', '/v1/auth/keys', async () => ok(await auth().list()))
  route('DELETE', '/v1/auth/keys/:uuid', async (_r, p) => ok(await auth().revoke(p.uuid ?? '')))
  route('GET', '/v1/peers', async () => ok(await api.peers()))
  route('GET', '/v1/replication/digests', async () => ok(await api.digests()))
  route('POST', '/v1/cluster/join', async (req) => ok(await api.join(await body(req))))
  route('POST', '/v1/cluster/leave', async () => ok(await api.leave()))
  route('GET', '/v1/top', async () => ok(await (api.top ?? fail(errors.unavailable('no top view')))()))
  route('GET', '/v1/logs/follow', async (req, _p, q, res) => {
    const follow = api.followLogs ?? fail(errors.unavailable('this agent has no log tail'))
    await streamNdjson(req, res, (signal, emit) => follow.call(api, q.fn ? { fn: q.fn } : {}, signal, emit))
    return ok(null)
  })

  /** Resolves a request to a handler's promise, or throws ROUTE_NOT_FOUND. */
  return (req: IncomingMessage, res: ServerResponse): Promise<{ status: number; body: unknown }> => {
    const holder = res as ServerResponse & { fnHandler?: Promise<{ status: number; body: unknown }> }
    router.lookup(req, res)
    if (!holder.fnHandler) {
      throw errors.routeNotFound(`no API route ${req.method} ${req.url?.split('?')[0]}; see docs/api.md`)
    }
    return holder.fnHandler
  }
}

export { sendJson }
