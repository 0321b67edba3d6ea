import { expect } from 'vitest'
import { Client } from '../../cli/client.ts'
import type { AgentHandle } from './agent-process.ts'

export type Accepted = { activationId: string; copies: number; priority: number }

/** An async invocation through the local API, expected accepted (202). */
export async function submit(agent: AgentHandle, fn: string, priority: number): Promise<Accepted> {
  const r = await new Client(agent.socket).call<Accepted>('POST', `/v1/functions/${fn}/invoke`, {
    params: {},
    blocking: false,
    priority,
  })
  expect(r.status, JSON.stringify(r.body)).toBe(202)
  return r.body
}
