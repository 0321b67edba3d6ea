export {
  type Candidate,
  CHOOSE_DEFAULTS,
  type ChooseOptions,
  chooseCandidates,
  type Reason,
} from './choose.ts'
export { OptimisticView } from './optimistic.ts'
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
