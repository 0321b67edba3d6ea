export { FunctionLabels, OTHER, PerFunction } from './labels.ts'
export { METRICS_DEFAULTS, type MetricsOptions, metricsOptionsSchema } from './options.ts'
export { AgentMetrics } from './registry.ts'
export { MetricsServer } from './server.ts'
export type { MetricsSources } from './sources.ts'
export {
  ClusterTop,
  type NodeStats,
  nodeStatsSchema,
  type QueueSummary,
  TOP_PROTOCOLS,
  type TopCluster,
  type TopNode,
  type TriggerFire,
} from './top.ts'
