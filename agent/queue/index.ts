export { CALLBACK_DEFAULTS, type CallbackOptions, callbackUrl, type Delivery, deliver } from './callback.ts'
export {
  type ClusterQueue,
  GossipedQueues,
  type GossipedQueuesComponents,
  headPriority,
  type NodeQueue,
  nodeQueueOf,
  queueAdvert,
} from './cluster.ts'
export {
  MAX_PRIORITY,
  PRIORITIES,
  type Priority,
  QUEUE_DEFAULTS,
  type QueueOptions,
  queueOptionsSchema,
} from './options.ts'
export { effectivePriority, JobOrder } from './order.ts'
export { type Job, JobQueue, type JobQueueComponents, type Outcome, type QueueStats } from './service.ts'
