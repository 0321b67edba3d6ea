import openwhisk from 'openwhisk'
import { afterAll, beforeAll } from 'vitest'
import type { ActivationRecord } from '../../agent/store/index.ts'
import { type ApiAgent, Cleanup, owFetch, startApiAgent } from '../api/helpers.ts'
import { waitFor } from '../helpers/wait-for.ts'

// OpenWhisk conformance: each test names the OpenWhisk test it ports (apache/openwhisk
// tests/src/test/scala/...), and runs against one real agent per file through the `openwhisk`
// npm client or plain HTTP, with real containers. Messages are OpenWhisk's exact words.

export type Activation = ActivationRecord

export interface Conformance {
  api: ApiAgent
  /** `uuid:key` of the file's API key. */
  key: string
  ow: ReturnType<typeof openwhisk>
  /** A plain request with the file's key (null: none). */
  req: (
    method: string,
    path: string,
    body?: unknown,
    auth?: string | null,
  ) => Promise<{ status: number; headers: Headers; body: unknown }>
  /** Creates (or replaces) an action as `wsk action update` sends it. */
  action: (name: string, code: string, extra?: ActionExtra) => Promise<unknown>
  /** Invokes non-blocking and waits for the stored record, as OpenWhisk's `withActivation`. */
  activation: (name: string, params?: object) => Promise<Activation>
}

export interface ActionExtra {
  kind?: string
  annotations?: object
  parameters?: object
  limits?: { timeout?: number; memory?: number; logs?: number }
  binary?: boolean
}

const pairs = (o: object | undefined) => Object.entries(o ?? {}).map(([key, value]) => ({ key, value }))
export const path = (name: string) => `/api/v1/namespaces/_/actions/${encodeURIComponent(name)}`

/** Starts the file's agent (`beforeAll`) and stops it (`afterAll`). */
export function conformanceAgent(opts: { env?: NodeJS.ProcessEnv; args?: string[] } = {}): Conformance {
  const cleanup = new Cleanup()
  const ctx = {} as Conformance
  beforeAll(async () => {
    const api = await startApiAgent(cleanup, opts)
    const key = await api.newKey('conformance')
    ctx.api = api
    ctx.key = key
    ctx.ow = openwhisk({ apihost: api.apihost, api_key: key })
    ctx.req = (method, p, body, auth = key) => owFetch(api.apihost, auth, method, p, body)
    ctx.action = async (name, code, extra = {}) => {
      const r = await ctx.req('PUT', `${path(name)}?overwrite=true`, {
        exec: { kind: extra.kind ?? 'nodejs:default', code, ...(extra.binary ? { binary: true } : {}) },
        ...(extra.annotations ? { annotations: pairs(extra.annotations) } : {}),
        ...(extra.parameters ? { parameters: pairs(extra.parameters) } : {}),
        ...(extra.limits ? { limits: extra.limits } : {}),
      })
      if (r.status !== 200) throw new Error(`creating ${name}: ${r.status} ${JSON.stringify(r.body)}`)
      return r.body
    }
    ctx.activation = async (name, params = {}) => {
      const r = await ctx.req('POST', path(name), params)
      if (r.status !== 202) throw new Error(`invoking ${name}: ${r.status} ${JSON.stringify(r.body)}`)
      const { activationId } = r.body as { activationId: string }
      return waitFor(
        async () => {
          const got = await ctx.req('GET', `/api/v1/namespaces/_/activations/${activationId}`)
          return got.status === 200 ? (got.body as Activation) : null
        },
        { what: `activation ${activationId} of ${name}`, timeoutMs: 90_000, everyMs: 200 },
      )
    }
  })
  afterAll(() => cleanup.run())
  return ctx
}

/** An annotation's value on a record or an action. */
export function annotation(entity: { annotations: Array<{ key: string; value: unknown }> }, key: string) {
  return entity.annotations.find((a) => a.key === key)?.value
}

/** The error body `{error, code}` OpenWhisk answers, checked for its transaction id. */
export function owError(body: unknown): string {
  const b = body as { error?: unknown; code?: unknown }
  if (typeof b?.code !== 'string' || !/^[0-9a-f]{32}$/.test(b.code)) {
    throw new Error(`not an OpenWhisk error body: ${JSON.stringify(body)}`)
  }
  return String(b.error)
}
