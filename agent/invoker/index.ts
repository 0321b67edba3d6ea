/**
 * The invoker: runs activations in Docker containers on this node.
 *
 *   const invoker = new Invoker({ logger, docker, nodeId, clock, systemMemoryMiB, imageFor }, config.invoker)
 *   await invoker.start()                       // network, leftovers of this node id, prewarmed containers
 *   invoker.canAccept(fn)                       // placement: accept or refuse at once
 *   const record = await invoker.invoke({ fn, code, params, activationId })  // caller stores the record
 *   invoker.onStateChange(() => gossip(invoker.state()))
 *   await invoker.stop({ drainMs: 30_000 })
 *
 * Files: pool (warm and prewarm indexes, pause and TTL timers) · prewarm (prewarm refill) ·
 * capacity (budget, LRU eviction) · container (one Docker container and its HTTP client) · limits
 * (create options, labels, lock-down) · network (bridge, host isolation) · logs (per-activation
 * capture) · activation (/init, /run, outcome) · result / record (OpenWhisk response and record).
 */

export { openEndpoint } from './isolation.ts'
export { prewarmKey, warmKey } from './keys.ts'
export type { FunctionsBridge } from './network.ts'
export { type InvokerOptions, invokerOptionsSchema } from './options.ts'
export type { RanActivation, StartKind } from './record.ts'
export { type InvokeRequest, Invoker, type InvokerComponents, type InvokerState } from './service.ts'
