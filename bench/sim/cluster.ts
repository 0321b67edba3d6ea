/** The simulated nodes: slots, idle (warm) containers with keep-alive, a FIFO queue, busy time. */

export interface Idle {
  fn: number
  since: number
}

export interface SimNode {
  idx: number
  id: string
  busy: number
  /** Functions of the busy containers. */
  running: number[]
  idle: Idle[]
  queue: Array<{ fn: number; duration: number; arrived: number; delay: number }>
  busyTime: number
}

export interface Stats {
  invocations: number
  cold: number
  refusals: number
  delays: number[]
}

export class SimCluster {
  readonly nodes: SimNode[]
  readonly slots: number
  readonly keepAliveMs: number
  /** fn -> nodes holding an idle container of it (fresh, for the omniscient scheduler). */
  readonly idleIndex = new Map<number, Set<number>>()

  constructor(n: number, slots: number, keepAliveMs: number) {
    this.slots = slots
    this.keepAliveMs = keepAliveMs
    this.nodes = Array.from({ length: n }, (_, idx) => ({
      idx,
      id: `node-${idx.toString().padStart(4, '0')}`,
      busy: 0,
      running: [],
      idle: [],
      queue: [],
      busyTime: 0,
    }))
  }

  expire(node: SimNode, now: number): void {
    if (node.idle.length === 0 || node.idle[0]!.since + this.keepAliveMs > now) return
    const keep = node.idle.filter((c) => c.since + this.keepAliveMs > now)
    for (const c of node.idle) if (!keep.includes(c)) this.#unindex(node, c.fn)
    node.idle = keep
  }

  hasIdle(node: SimNode, fn: number, now: number): boolean {
    this.expire(node, now)
    return node.idle.some((c) => c.fn === fn)
  }

  hasRoom(node: SimNode): boolean {
    return node.busy < this.slots
  }

  /** Starts `fn` on `node` now: reuses an idle container (warm) or evicts the LRU idle one (cold). */
  start(node: SimNode, fn: number, now: number): 'warm' | 'cold' {
    this.expire(node, now)
    node.busy++
    node.running.push(fn)
    const i = node.idle.findIndex((c) => c.fn === fn)
    if (i >= 0) {
      node.idle.splice(i, 1)
      this.#unindex(node, fn)
      return 'warm'
    }
    if (node.busy + node.idle.length > this.slots) {
      const lru = node.idle.shift()!
      this.#unindex(node, lru.fn)
    }
    return 'cold'
  }

  finish(node: SimNode, fn: number, now: number): void {
    node.busy--
    node.running.splice(node.running.indexOf(fn), 1)
    node.idle.push({ fn, since: now })
    let s = this.idleIndex.get(fn)
    if (!s) {
      s = new Set()
      this.idleIndex.set(fn, s)
    }
    s.add(node.idx)
  }

  #unindex(node: SimNode, fn: number): void {
    if (node.idle.some((c) => c.fn === fn)) return
    this.idleIndex.get(fn)?.delete(node.idx)
  }
}
