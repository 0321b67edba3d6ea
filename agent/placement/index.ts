export {
  type Candidate,
  CHOOSE_DEFAULTS,
  type ChooseOptions,
  chooseCandidates,
  type Reason,
} from './choose.ts'
export { FORWARD_PROTOCOL, type PlacementExplain } from './messages.ts'
export { OptimisticView } from './optimistic.ts'
export { PLACEMENT_DEFAULTS, type PlacementOptions, placementOptionsSchema } from './options.ts'
export { fnv1a, rendezvous } from './rendezvous.ts'
export {
  type CapacityView,
  isCandidate,
  type PlacementMember,
  type PlacementTarget,
  type ScoreParts,
  scoreMember,
  WEIGHTS,
} from './score.ts'
export {
  type LocalInvoker,
  Placement,
  type PlacementCluster,
  type PlacementComponents,
  type PlacementInit,
  targetOf,
} from './service.ts'
