import type { ActivationRecord, FunctionRecord } from '../store/index.ts'
import type { ActivationSet } from './activation-set.ts'
import type { SyncSet } from './digest-sync.ts'
import { FN_DEPTH, type FunctionSet, fnLeafOfKey } from './function-set.ts'
import { ACT_DEPTH, type Ownership, partitionOf } from './owners.ts'
import type { ReplicationStats } from './stats.ts'

/** Function metadata: every node holds every version, so every leaf is shared. */
export function functionSync(fnSet: FunctionSet, stats: ReplicationStats): SyncSet<FunctionRecord> {
  return {
    kind: 'fn',
    depth: FN_DEPTH,
    table: () => fnSet.table(),
    include: () => true,
    entries: (leaves) => fnSet.entries(leaves),
    get: (keys) => fnSet.get(keys),
    apply: async (records) => {
      for (const r of records) {
        const outcome = await fnSet.apply(r)
        if (outcome !== 'applied') stats.drop(outcome)
      }
    },
    received: (answer) => answer.functions,
    leafOf: fnLeafOfKey,
    pushBody: (records) => ({ functions: records.map((record) => ({ record })), activations: [] }),
  }
}

/** Activation records: a leaf (partition) is shared by two nodes when both own it. */
export function activationSync(
  actSet: ActivationSet,
  stats: ReplicationStats,
  ownership: () => Ownership,
): SyncSet<ActivationRecord> {
  return {
    kind: 'act',
    depth: ACT_DEPTH,
    table: () => actSet.table(),
    include: (leaf, peer) => ownership().shared(leaf, peer),
    entries: (leaves) => actSet.entries(leaves),
    get: (ids) => actSet.get(ids),
    apply: async (records) => {
      for (const o of await actSet.applyMany(records)) if (o !== 'applied') stats.drop(o)
    },
    received: (answer) => answer.activations,
    leafOf: partitionOf,
    pushBody: (records) => ({ functions: [], activations: records }),
  }
}
