/**
 * Events: OpenWhisk's triggers and rules, replicated to every node (service.ts).
 *
 *   const events = new EventService({ logger, store, clock, nodeId, resolveAction, invokeAsync, keepRecord, onWrite })
 *   await events.putTrigger('guest', 'push', {}, false)
 *   await events.putRule('guest', 'on-push', { trigger: '/_/push', action: '/_/hello' }, false)
 *   await events.fire('guest', 'push', { ref: 'main' }, subject)   // the trigger activation's id
 */
export {
  EventService,
  type EventServiceComponents,
  type EventStats,
  entityName,
  type RecentFire,
  type RuleInput,
  type TriggerInput,
} from './service.ts'
