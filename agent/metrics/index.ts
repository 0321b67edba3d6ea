export { FunctionLabels, OTHER } from './labels.ts'
export { METRICS_DEFAULTS, type MetricsOptions, metricsOptionsSchema } from './options.ts'
export { AgentMetrics } from './registry.ts'
export { MetricsServer } from './server.ts'
export type { MetricsSources } from './sources.ts'
export {
  ClusterTop,
  type NodeStats,
  nodeStatsSchema,
  TOP_PROTOCOLS,
  type TopCluster,
  type TopNode,
} from './top.ts'
