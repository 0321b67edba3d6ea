import {
  FORWARD_PROTOCOL,
  type ForwardRequest,
  type ForwardResponse,
  forwardRequestSchema,
  MAX_HOPS,
} from './messages.ts'
import { refusalFor } from './refusal.ts'
import { type RpcServer, serve } from './rpc.ts'
import type { PlacementComponents, PlacementInit } from './service.ts'

/**
 * The target side of forwarding: answers `/fnagent/invoke/1.0.0` at once with a refusal from its
 * fresh state, or runs the activation (fetching the code by hash when it lacks it) and answers
 * with the record, which it keeps and replicates.
 */
export class ForwardTarget {
  readonly #c: PlacementComponents
  readonly #init: PlacementInit

  constructor(components: PlacementComponents, init: PlacementInit) {
    this.#c = components
    this.#init = init
  }

  async start(server: RpcServer): Promise<void> {
    await serve(server, FORWARD_PROTOCOL, forwardRequestSchema, (req, signal) => this.#accept(req, signal), {
      maxBytes: this.#init.maxMessageBytes,
      timeoutMs: 310_000,
      onInvalid: (reason) => ({ type: 'refused', code: 'INVALID', message: reason }),
    })
  }

  async #accept(req: ForwardRequest, signal: AbortSignal): Promise<ForwardResponse> {
    if (req.hops > MAX_HOPS) return { type: 'refused', code: 'HOPS', message: 'too many hops' }
    const refusal = refusalFor(this.#c.invoker, this.#c.draining(), req.fn, req.explain.reason)
    if (refusal) return { type: 'refused', code: refusal.code, message: refusal.message }
    await this.#c.store.functions.write(req.fn)
    const code = await this.#c.loadCode(req.fn, signal)
    if (req.fn.codeHash && !code) {
      return {
        type: 'refused',
        code: 'CODE_MISSING',
        message: `code ${req.fn.codeHash} is on no reachable node`,
      }
    }
    const record = await this.#c.invoker.invoke({
      fn: req.fn,
      code,
      params: req.params,
      activationId: req.activationId,
      deadline: req.deadline,
      signal,
      extraAnnotations: [{ key: 'placement', value: req.explain }],
    })
    await this.#c.keepRecord(record)
    return { type: 'done', record }
  }
}
