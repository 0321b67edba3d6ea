/**
 * Rendezvous (highest-random-weight) hashing: every agent ranks the same members for the same key
 * without talking. Used for a function's home nodes (placement) and for the owners of code blobs
 * and activation records (replication).
 */

/** 32-bit FNV-1a of a string. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** A strong 32-bit mix of two hashes (murmur3 finalizer), so weights are independent per member. */
export function mix(a: number, b: number): number {
  let h = (a ^ Math.imul(b, 0x9e3779b1)) >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Hashes of member ids: a pure memo (same answer for every caller), bounded. */
const memberHashes = new Map<string, number>()
function memberHash(id: string): number {
  let h = memberHashes.get(id)
  if (h === undefined) {
    if (memberHashes.size > 100_000) memberHashes.clear()
    h = fnv1a(id)
    memberHashes.set(id, h)
  }
  return h
}

/** The `k` members with the highest weight for `key`, best first. Deterministic for the same inputs. */
export function rendezvous(key: string, members: readonly string[], k: number): string[] {
  if (k <= 0) return []
  const kh = fnv1a(key)
  const top: Array<{ m: string; w: number }> = []
  for (const m of members) {
    const w = mix(kh, memberHash(m))
    if (top.length < k || w > top[top.length - 1]!.w) {
      let i = top.length < k ? top.length : top.length - 1
      if (top.length < k) top.push({ m, w })
      else top[i] = { m, w }
      while (i > 0 && top[i - 1]!.w < top[i]!.w) {
        ;[top[i - 1], top[i]] = [top[i]!, top[i - 1]!]
        i--
      }
    }
  }
  return top.map((x) => x.m)
}

/**
 * The `k` live (`alive`) members with the highest weight for `key`, best first: `rendezvous` over
 * member objects, for placement's per-invocation ranking (no id list built, hashes memoised).
 */
export function rankMembers<M extends RankedMember>(key: string, members: readonly M[], k: number): M[] {
  return rankWeighted(key, members, k).members
}

type RankedMember = { peerId: string; state: string; idHash?: number | undefined }

/** `rankMembers` with each member's weight (for merging another member in later). */
export function rankWeighted<M extends RankedMember>(
  key: string,
  members: readonly M[],
  k: number,
): { members: M[]; weights: number[] } {
  const top: M[] = []
  const weights: number[] = []
  if (k <= 0) return { members: top, weights }
  const kh = fnv1a(key)
  for (const m of members) {
    if (m.state !== 'alive') continue
    const w = mix(kh, m.idHash ?? memberHash(m.peerId))
    const full = top.length >= k
    if (full && w <= weights[k - 1]!) continue
    let i = full ? k - 1 : top.length
    while (i > 0 && weights[i - 1]! < w) {
      top[i] = top[i - 1]!
      weights[i] = weights[i - 1]!
      i--
    }
    top[i] = m
    weights[i] = w
  }
  return { members: top, weights }
}

/** The weight of one member for `key` (as `rankWeighted` computes it). */
export function weightOf(key: string, m: RankedMember): number {
  return mix(fnv1a(key), m.idHash ?? memberHash(m.peerId))
}
