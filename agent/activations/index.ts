export { Composer, componentName, isComposition, isConductor } from './composition.ts'
export { NamespaceLimiter, THROTTLE_MESSAGES } from './limits.ts'
export type { QueuedJobsStats } from './queued.ts'
export {
  ActivationService,
  type ActivationServiceComponents,
  type ActivationServiceInit,
  type Runner,
  type RunRequest,
} from './service.ts'
