export type { AgentApi } from './routes.ts'
export { type LocalApiComponents, type LocalApiInit, LocalApiServer } from './server.ts'
