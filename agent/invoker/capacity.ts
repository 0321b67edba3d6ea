import type { InvokerOptions } from './options.ts'

/** The memory budget for function containers: `memoryBudgetMiB`, else `memoryShare` of total memory. */
export function resolveBudgetMiB(options: InvokerOptions, systemMemoryMiB: number): number {
  return options.memoryBudgetMiB ?? Math.floor(systemMemoryMiB * options.memoryShare)
}

export interface Evictable {
  memoryMiB: number
  lastUsed: number
  /** Prewarmed containers are evicted after idle warm containers (they serve any new function of their kind). */
  prewarm: boolean
}

/**
 * Which idle containers to evict so that `needMiB` fits, least recently used first (idle warm
 * containers before prewarmed containers); `null` when even evicting all of them is not enough.
 */
export function pickEvictions<T extends Evictable>(idle: T[], needMiB: number, freeMiB: number): T[] | null {
  if (needMiB <= freeMiB) return []
  const order = [...idle].sort((a, b) => Number(a.prewarm) - Number(b.prewarm) || a.lastUsed - b.lastUsed)
  const chosen: T[] = []
  let free = freeMiB
  for (const c of order) {
    if (free >= needMiB) break
    chosen.push(c)
    free += c.memoryMiB
  }
  return free >= needMiB ? chosen : null
}
