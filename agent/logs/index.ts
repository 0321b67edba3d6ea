export { LOG_TAIL_PROTOCOLS, type TailAnswer, type TailEntry } from './messages.ts'
export { LOG_TAIL_DEFAULTS, type LogTailOptions, logTailOptionsSchema } from './options.ts'
export { ActivationLogs, type FollowEvent, type LogTailCluster } from './service.ts'
export { LogTail } from './tail.ts'
