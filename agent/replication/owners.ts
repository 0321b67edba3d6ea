import type { MemberView } from '../cluster/index.ts'
import { rendezvous } from '../placement/rendezvous.ts'

/**
 * Who owns what. Activation records are grouped into partitions by the first hex digits of their
 * (random, hex) id; a partition's owners are the top R live members by rendezvous hashing of the
 * partition. Partitions make digests per owner set cheap to keep, and every node computes the same
 * owners from the same view without talking. Code blobs are owned by rendezvous of their hash.
 */
export const ACT_DEPTH = 3
export const PARTITIONS = 16 ** ACT_DEPTH

export function partitionOf(activationId: string): string {
  return activationId.slice(0, ACT_DEPTH)
}

export function partitionName(i: number): string {
  return i.toString(16).padStart(ACT_DEPTH, '0')
}

/** Members that hold data: alive or suspect (a suspect may come back; dead and left do not count). */
export function liveMembers(view: readonly MemberView[]): string[] {
  return view
    .filter((m) => m.state === 'alive' || m.state === 'suspect')
    .map((m) => m.peerId)
    .sort()
}

/** Owners computed for one membership; rebuild when the live set changes. */
export class Ownership {
  readonly self: string
  readonly members: readonly string[]
  readonly replicas: number
  readonly key: string
  #partitions: string[][] | null = null

  constructor(self: string, members: readonly string[], replicas: number, opts: { withSelf?: boolean } = {}) {
    this.self = self
    const others = members.filter((m) => m !== self)
    this.members = opts.withSelf === false ? others : [...others, self].sort()
    this.replicas = replicas
    this.key = this.members.join(',')
  }

  /** Owners of an activation partition (all members when there are fewer than R). */
  partitionOwners(partition: string): readonly string[] {
    if (!this.#partitions) {
      this.#partitions = []
      for (let i = 0; i < PARTITIONS; i++) {
        this.#partitions.push(rendezvous(`act:${partitionName(i)}`, this.members, this.replicas))
      }
    }
    return this.#partitions[Number.parseInt(partition, 16)] ?? []
  }

  activationOwners(activationId: string): readonly string[] {
    return this.partitionOwners(partitionOf(activationId))
  }

  blobOwners(hash: string): string[] {
    return rendezvous(`blob:${hash}`, this.members, this.replicas)
  }

  ownsPartition(partition: string, peer = this.self): boolean {
    return this.partitionOwners(partition).includes(peer)
  }

  /** Partitions both `peer` and this node own: the ones whose digests must match. */
  shared(partition: string, peer: string): boolean {
    const o = this.partitionOwners(partition)
    return o.includes(this.self) && o.includes(peer)
  }

  /** The same membership without this node: who held a partition before this node took it. */
  withoutSelf(): Ownership {
    return new Ownership(this.self, this.members, this.replicas, { withSelf: false })
  }
}
