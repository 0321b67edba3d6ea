import { type AgentHandle, Cleanup, removeDir, startAgent } from '../helpers/agent-process.ts'
import { waitFor } from '../helpers/wait-for.ts'

export interface ApiAgent {
  agent: AgentHandle
  /** `http://127.0.0.1:PORT` of the OpenWhisk API listener. */
  apihost: string
  /** Creates an API key through the real CLI and returns `uuid:key`. */
  newKey: (description?: string) => Promise<string>
}

/** Starts a real agent with the OpenWhisk API on 127.0.0.1, a free port; `cleanup` stops it. */
export async function startApiAgent(
  cleanup: Cleanup,
  opts: { env?: NodeJS.ProcessEnv; args?: string[] } = {},
): Promise<ApiAgent> {
  const agent = await startAgent({
    args: ['--no-cluster', '--api-listen', '127.0.0.1:0', ...(opts.args ?? [])],
    env: opts.env,
  })
  cleanup.add(() => removeDir(agent.dataDir))
  cleanup.add(() => agent.stop())
  const apihost = await apiHostOf(agent)
  const newKey = async (description?: string) => {
    const r = await agent.cli(['auth', 'create', ...(description ? ['--description', description] : [])])
    if (r.code !== 0) throw new Error(`auth create failed: ${r.stderr}`)
    return r.stdout.trim()
  }
  return { agent, apihost, newKey }
}

/** `http://127.0.0.1:PORT` of an agent's OpenWhisk API listener, once its log says it listens. */
export function apiHostOf(agent: AgentHandle): Promise<string> {
  return waitFor(
    () =>
      /"url":"(https?:\/\/127\.0\.0\.1:\d+)","msg":"OpenWhisk API listening"/.exec(agent.output())?.[1] ?? '',
    { what: 'the OpenWhisk API listener', timeoutMs: 30_000 },
  )
}

/** The error an `openwhisk` client call fails with (fails the test if the call succeeds). */
export async function owClientError(
  p: Promise<unknown>,
): Promise<{ statusCode: number; error: { error: string } }> {
  try {
    await p
  } catch (err) {
    return err as { statusCode: number; error: { error: string } }
  }
  throw new Error('expected the call to fail')
}

/** The OpenWhisk API of an agent started with `--api-listen 127.0.0.1:0`, and a new key on it. */
export async function apiOf(agent: AgentHandle): Promise<{ host: string; key: string }> {
  const host = await apiHostOf(agent)
  const r = await agent.cli(['auth', 'create'])
  if (r.code !== 0) throw new Error(r.stderr)
  return { host, key: r.stdout.trim() }
}

export function basic(auth: string): string {
  return `Basic ${Buffer.from(auth).toString('base64')}`
}

/** A plain fetch as `wsk` sends it (basic auth, JSON). */
export async function owFetch(
  apihost: string,
  auth: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(`${apihost}${path}`, {
    method,
    headers: {
      ...(auth ? { authorization: basic(auth) } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed }
}

export { Cleanup }
