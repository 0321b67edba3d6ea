export {
  ActivationService,
  type ActivationServiceComponents,
  type ActivationServiceInit,
  newActivationId,
  type Runner,
  type RunRequest,
} from './service.ts'
