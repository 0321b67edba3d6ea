import { createHash } from 'node:crypto'
import { compareVersions } from '../store/hlc.ts'

/**
 * Digests for anti-entropy. Keys fall into leaves named by hex prefixes (all leaves have the same
 * depth); a leaf's hash is the XOR of its entries' hashes, so it can be updated one entry at a time,
 * and an inner node's hash is the XOR of its leaves. Two peers compare the 16 children of a prefix
 * and descend only into the ones that differ (Merkle-style), then exchange the entry lists of the
 * differing leaves.
 */
export const HASH_BYTES = 16
const ZERO = Buffer.alloc(HASH_BYTES)

/** An entry's version: `${hlc}|${origin}`, compared by last-writer-wins. */
export function versionOf(r: { hlc: string; origin: string }): string {
  return `${r.hlc}|${r.origin}`
}

export function compareVersionStrings(a: string, b: string): number {
  const [ah = '', ...ao] = a.split('|')
  const [bh = '', ...bo] = b.split('|')
  return compareVersions({ hlc: ah, origin: ao.join('|') }, { hlc: bh, origin: bo.join('|') })
}

export function entryHash(key: string, version: string): Buffer {
  return createHash('sha256').update(key).update('\0').update(version).digest().subarray(0, HASH_BYTES)
}

function xor(into: Buffer, h: Buffer): void {
  for (let i = 0; i < HASH_BYTES; i++) into[i]! ^= h[i]!
}

/** Leaf hashes of one data set. */
export class LeafTable {
  readonly #leaves = new Map<string, Buffer>()

  clear(): void {
    this.#leaves.clear()
  }

  /** Adds (or, applied twice, removes) an entry. */
  toggle(leaf: string, key: string, version: string): void {
    let h = this.#leaves.get(leaf)
    if (!h) {
      h = Buffer.alloc(HASH_BYTES)
      this.#leaves.set(leaf, h)
    }
    xor(h, entryHash(key, version))
    if (h.equals(ZERO)) this.#leaves.delete(leaf)
  }

  set(leaf: string, hash: Buffer): void {
    if (hash.equals(ZERO)) this.#leaves.delete(leaf)
    else this.#leaves.set(leaf, Buffer.from(hash))
  }

  /** The hash over every leaf (the tree's root). */
  root(): string {
    const h = Buffer.alloc(HASH_BYTES)
    for (const v of this.#leaves.values()) xor(h, v)
    return h.toString('hex')
  }

  leaf(leaf: string): string {
    return (this.#leaves.get(leaf) ?? ZERO).toString('hex')
  }

  /**
   * For each prefix, the hashes of its children (prefix + one hex digit) over the leaves that
   * `include` accepts; children whose hash is zero are left out.
   */
  children(prefixes: readonly string[], include: (leaf: string) => boolean): Record<string, string> {
    const wanted = new Set(prefixes)
    const lengths = [...new Set(prefixes.map((p) => p.length))]
    const acc = new Map<string, Buffer>()
    for (const [leaf, h] of this.#leaves) {
      if (!include(leaf)) continue
      for (const len of lengths) {
        if (len >= leaf.length || !wanted.has(leaf.slice(0, len))) continue
        const child = leaf.slice(0, len + 1)
        let a = acc.get(child)
        if (!a) {
          a = Buffer.alloc(HASH_BYTES)
          acc.set(child, a)
        }
        xor(a, h)
      }
    }
    const out: Record<string, string> = {}
    for (const [child, h] of acc) if (!h.equals(ZERO)) out[child] = h.toString('hex')
    return out
  }
}

/** What each side lacks, from two entry lists of the same leaves (key -> version). */
export function diffEntries(
  local: ReadonlyMap<string, string>,
  remote: ReadonlyMap<string, string>,
): { want: string[]; give: string[] } {
  const want: string[] = []
  const give: string[] = []
  for (const [k, rv] of remote) {
    const lv = local.get(k)
    if (lv === undefined || compareVersionStrings(rv, lv) > 0) want.push(k)
  }
  for (const [k, lv] of local) {
    const rv = remote.get(k)
    if (rv === undefined || compareVersionStrings(lv, rv) > 0) give.push(k)
  }
  return { want, give }
}
