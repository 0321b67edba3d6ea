import type { TopNode } from '../metrics/index.ts'
import type { ActivationQuery } from '../store/index.ts'
import type { ActivationRecord } from '../store/types.ts'

/** Dead letters the dashboard lists. */
const DEAD_LETTERS = 10

/** One recent activation as the dashboard draws it: where it ran, who placed it and why. */
export interface DashboardActivation {
  activationId: string
  fn: string
  node: string
  start: number
  duration: number
  status: string
  /** How it got its container (`warm`, `prewarmed`, `cold`). */
  startKind: string | null
  /** The placement explanation (the record's `placement` annotation), null for one without. */
  placement: { receivedBy: string; reason: string; score: number; attempt: number; runnerUp: unknown } | null
}

export interface DashboardView {
  at: number
  /** The node serving the page. */
  self: string
  nodes: TopNode[]
  activations: DashboardActivation[]
  /** The dead letters this node holds (their records replicate to their owners), newest first. */
  deadLetters: DashboardActivation[]
}

export function dashboardActivation(r: ActivationRecord): DashboardActivation {
  const ann = (key: string) => r.annotations.find((a) => a.key === key)?.value
  const p = ann('placement') as DashboardActivation['placement'] | undefined
  return {
    activationId: r.activationId,
    fn: `${r.namespace}/${r.name}`,
    node: r.node,
    start: r.start,
    duration: r.duration,
    status: r.response.status,
    startKind: (ann('start') as string | undefined) ?? null,
    placement: p ?? null,
  }
}

/** What the dashboard's view is made of. */
export interface DashboardSources {
  nodeId: string
  top: (signal: AbortSignal) => Promise<{ at: number; nodes: TopNode[] }>
  /** Recent activations (of the whole cluster when there is one). */
  recent: (q: ActivationQuery) => Promise<ActivationRecord[]>
  /** The dead letters held here, newest first. */
  dead?: (limit: number) => Promise<ActivationRecord[]>
  limit: number
}

export async function dashboardView(s: DashboardSources): Promise<DashboardView> {
  const [top, recent, dead] = await Promise.all([
    s.top(AbortSignal.timeout(2000)),
    s.recent({ limit: s.limit, skip: 0 }),
    s.dead?.(DEAD_LETTERS) ?? [],
  ])
  return {
    at: top.at,
    self: s.nodeId,
    nodes: top.nodes,
    activations: recent.map(dashboardActivation),
    deadLetters: dead.map(dashboardActivation),
  }
}
