/**
 * Why a replication message or record was dropped (`future`: stamped more than the max clock drift
 * ahead of this node; offered again later).
 */
export type DropReason = 'invalid' | 'tooLarge' | 'badHash' | 'expired' | 'stopped' | 'future'

/** Counters shown by `status()`. */
export class ReplicationStats {
  readonly dropped: Record<string, number> = {}
  bytesOut = 0
  bytesIn = 0
  /** Records and blobs moved by anti-entropy, catch-up and handoff (not by the first push). */
  repairs = 0
  /** When anti-entropy last repaired something (epoch ms). */
  lastRepair: number | null = null

  drop(reason: DropReason, n = 1): void {
    if (n <= 0) return
    this.dropped[reason] = (this.dropped[reason] ?? 0) + n
  }

  repaired(n: number): void {
    if (n <= 0) return
    this.repairs += n
    this.lastRepair = Date.now()
  }
}
