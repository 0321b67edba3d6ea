export { NamespaceLimiter, THROTTLE_MESSAGES } from './limits.ts'
export {
  ActivationService,
  type ActivationServiceComponents,
  type ActivationServiceInit,
  type Runner,
  type RunRequest,
} from './service.ts'
