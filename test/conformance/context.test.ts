import { describe, expect, it } from 'vitest'
import { conformanceAgent } from './helpers.ts'

// The `__OW_` context an action sees (WskRestBasicUsageTests "invoke an action receiving context
// properties", helloContext.js and helloDeadline.js written afresh), in both runtimes.
// The API host the actions are told (`invoker.apiHost`): any URL the operator gives.
const API_HOST = 'https://openwhisk.example:3233'
const c = conformanceAgent({ env: { FNAGENT_INVOKER_API_HOST: API_HOST } })

const NODE_CONTEXT = `function main() {
  const e = process.env
  return { api_host: e.__OW_API_HOST, api_key: e.__OW_API_KEY, namespace: e.__OW_NAMESPACE, action_name: e.__OW_ACTION_NAME,
    action_version: e.__OW_ACTION_VERSION, activation_id: e.__OW_ACTIVATION_ID, deadline: e.__OW_DEADLINE }
}`
const PY_CONTEXT = `import os
def main(args):
    keys = ['api_host', 'api_key', 'namespace', 'action_name', 'action_version', 'activation_id', 'deadline']
    return {k: os.environ.get('__OW_' + k.upper()) for k in keys if os.environ.get('__OW_' + k.upper())}
`

describe.each([
  { kind: 'nodejs:default', code: NODE_CONTEXT },
  { kind: 'python:3', code: PY_CONTEXT },
])('conformance: context in $kind', ({ kind, code }) => {
  const name = `context-${kind.split(':')[0]}`

  it('gives the activation context, without the API key by default (… "excluding api key")', async () => {
    await c.action(name, code, { kind })
    const start = Date.now()
    const rec = await c.activation(name)
    expect(rec.response.status).toBe('success')
    const fields = rec.response.result as Record<string, string | undefined>
    expect(fields.api_host).toBe(API_HOST)
    expect(fields.api_key).toBeUndefined()
    expect(fields.namespace).toBe('guest')
    expect(fields.action_name).toBe(`/guest/${name}`)
    expect(fields.action_version).toMatch(/^\d+\.\d+\.\d+$/)
    expect(fields.activation_id).toBe(rec.activationId)
    expect(Number(fields.deadline)).toBeGreaterThanOrEqual(start)
  })

  it('gives the caller\'s API key with provide-api-key (… "including api key")', async () => {
    await c.action(`${name}-key`, code, { kind, annotations: { 'provide-api-key': true } })
    const rec = await c.activation(`${name}-key`)
    expect((rec.response.result as { api_key?: string }).api_key).toBe(c.key)
  })
})

describe('conformance: deadline', () => {
  it('is the run start plus the time limit (WskRestBasicUsageTests "invoke an action that returns a result by the deadline")', async () => {
    const code = `function main() {
      const timeleft = Number(process.env.__OW_DEADLINE) - Date.now()
      return new Promise((resolve) => setTimeout(() => resolve({ timedout: true, timeleft }), timeleft - 500))
    }`
    await c.action('deadline', code, { limits: { timeout: 3000 } })
    const rec = await c.activation('deadline')
    expect(rec.response).toMatchObject({ status: 'success', result: { timedout: true } })
    expect((rec.response.result as { timeleft: number }).timeleft).toBeLessThanOrEqual(3000)
  })
})
