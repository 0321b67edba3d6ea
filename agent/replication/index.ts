/**
 * Replication: function code and activation records survive the loss of any node.
 *
 *   const replication = new Replication({ logger, store, clock, cluster, nodeId }, config.replication)
 *   await replication.start()
 *   functions.onWrite  -> replication.functionWritten(record, code)   // metadata to all, code to R owners
 *   activations.onRecord -> replication.activationStored(record)       // to the R owners of its partition
 *   await replication.fetchActivation(id, signal)   // here, else from owners, else any live peer
 *   await replication.listCluster({ limit: 30 })     // `activation list` merged over live peers
 *   await replication.code(fnRecord, signal)         // code from here or a peer (non-owners lack it)
 *   replication.status()  // { underReplicated, lastRepair, repairs, dropped, bytesOut, bytesIn, catchingUp }
 *   await replication.stop()
 *
 * What goes where: function metadata (every version, deletes as tombstones) on every node; a code
 * blob on the R owners of its hash (rendezvous over live members); an activation record on the node
 * that ran it, the node that received it and the R owners of its partition (the first three hex
 * digits of its id). Conflicts resolve by last-writer-wins on (HLC, origin). Pushes go first;
 * anti-entropy (Merkle digests with a random peer every `antiEntropyMs`) repairs what they missed,
 * and after a membership change new owners pull what they now own.
 */
export { REPL_PROTOCOL } from './messages.ts'
export { REPLICATION_DEFAULTS, type ReplicationOptions, replicationOptionsSchema } from './options.ts'
export { liveMembers, Ownership, partitionOf } from './owners.ts'
export {
  Replication,
  type ReplicationComponents,
  type ReplicationStatus,
} from './service.ts'
export type { ReplicationCluster } from './wire.ts'
