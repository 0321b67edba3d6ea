import { type RpcServer, serveChannel } from '../cluster/index.ts'
import { errors } from '../errors.ts'
import {
  FORWARD_PROTOCOLS,
  type ForwardRequest,
  type ForwardResponse,
  forwardRequestSchema,
  MAX_HOPS,
  runAnnotations,
} from './messages.ts'
import { invokeOrRefuse, refused, refusedAnswer } from './refusal.ts'
import type { PlacementComponents, PlacementInit } from './service.ts'

/** Longest a forwarded activation may run here (the longest function timeout, plus margin). */
const HANDLER_TIMEOUT_MS = 310_000
/** Requests one sender may have running here at once; more are refused as BUSY (it tries elsewhere). */
const MAX_INFLIGHT_PER_CHANNEL = 1024

/**
 * The target side of forwarding: answers at once with a refusal from its fresh state, or runs the
 * activation (fetching the code by hash when it lacks it) and answers with the record, which it
 * keeps and replicates. Served on a request channel (many requests per stream).
 */
export class ForwardTarget {
  readonly #c: PlacementComponents
  readonly #init: PlacementInit

  constructor(components: PlacementComponents, init: PlacementInit) {
    this.#c = components
    this.#init = init
  }

  async start(server: RpcServer): Promise<void> {
    const onRequest = async (body: unknown, _from: string, signal: AbortSignal): Promise<ForwardResponse> => {
      const req = forwardRequestSchema.safeParse(body)
      if (!req.success)
        return refused(errors.invalidRequest(req.error.issues[0]?.message ?? 'invalid request'))
      return this.#accept(req.data, signal)
    }
    await serveChannel(server, FORWARD_PROTOCOLS, onRequest, {
      maxBytes: this.#init.maxMessageBytes,
      timeoutMs: HANDLER_TIMEOUT_MS,
      maxInflight: MAX_INFLIGHT_PER_CHANNEL,
      onBusy: (): ForwardResponse => refused(errors.busy('too many requests from this peer')),
      logger: this.#c.logger,
    })
  }

  async #accept(req: ForwardRequest, signal: AbortSignal): Promise<ForwardResponse> {
    if (req.hops > MAX_HOPS) return refused(errors.hops('too many hops'))
    const refusal = refusedAnswer(this.#c.invoker, this.#c.draining(), req.fn, req.explain.reason)
    if (refusal) return refusal
    await this.#c.store.functions.write(req.fn)
    const code = await this.#c.loadCode(req.fn, signal)
    if (req.fn.codeHash && !code) {
      return refused(errors.codeMissing(`code ${req.fn.codeHash} is on no reachable node`))
    }
    const inv = this.#c.invoker
    const ran = await invokeOrRefuse(inv, req.fn, () =>
      inv.invoke({
        fn: req.fn,
        code,
        params: req.params,
        activationId: req.activationId,
        deadline: req.deadline,
        signal,
        ...(req.apiKey ? { apiKey: req.apiKey } : {}),
        ...(req.cause ? { cause: req.cause } : {}),
        ...(req.namespace ? { namespace: req.namespace } : {}),
        extraAnnotations: [...runAnnotations(req.explain, req.traceparent), ...(req.annotations ?? [])],
      }),
    )
    if (ran.type === 'done') await this.#c.keepRecord(ran.record, req.explain.receivedBy)
    return ran
  }
}
