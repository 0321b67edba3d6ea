/**
 * Events: OpenWhisk's triggers and rules, replicated to every node (service.ts).
 *
 *   const events = new EventService({ logger, store, clock, nodeId, resolveAction, invokeAsync, keepRecord, onWrite })
 *   await events.putTrigger('guest', 'push', {}, false)
 *   await events.putRule('guest', 'on-push', { trigger: '/_/push', action: '/_/hello' }, false)
 *   await events.fire('guest', 'push', { ref: 'main' }, subject)   // the trigger activation's id
 *
 * Alarm feeds (alarms.ts): each alarm fired by one live owner, taken over when it dies.
 */
export { AlarmService, type AlarmServiceComponents } from './alarms.ts'
export { ALARM_DEFAULTS, type AlarmOptions, alarmOptionsSchema } from './options.ts'
export {
  ALARM_FEEDS,
  type AlarmFeed,
  nextTick,
  scheduleFromParams,
  tickId,
  ticksBetween,
} from './schedule.ts'
export {
  EventService,
  type EventServiceComponents,
  entityName,
  type RuleInput,
  type Tick,
  type TriggerInput,
} from './service.ts'
export { WEBHOOK_SECRET_HEADER, type WebhookComponents, Webhooks, webhookPath } from './webhooks.ts'
