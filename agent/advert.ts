import type { LocalState } from './cluster/index.ts'
import type { Invoker } from './invoker/index.ts'
import type { FunctionRecord } from './store/index.ts'

/** How many code blobs a heartbeat names. */
const MAX_BLOBS = 256

/**
 * What this node advertises to its peers each heartbeat: its capacity, its warm and prewarm
 * inventory (the invoker's), and the code blobs it holds, newest first.
 */
export class NodeAdvert {
  readonly #invoker: Invoker
  readonly #inflight: () => number
  readonly #load: () => Record<string, number>
  readonly #queue: () => Record<string, number>
  #blobs: string[]

  /**
   * `blobs`: the hashes held at start (`store.blobs.list`); `inflight`: activations received here and
   * not done; `load`: the per-namespace load (NamespaceLimiter.load); `queue`: the queue's share
   * (agent/queue/cluster.ts queueAdvert).
   */
  constructor(
    invoker: Invoker,
    inflight: () => number,
    blobs: string[],
    load: () => Record<string, number> = () => ({}),
    queue: () => Record<string, number> = () => ({}),
  ) {
    this.#invoker = invoker
    this.#inflight = inflight
    this.#load = load
    this.#queue = queue
    this.#blobs = blobs.slice(0, MAX_BLOBS)
  }

  /** A function version was written here: its code blob is held here now. */
  noteWrite(record: FunctionRecord): void {
    if (!record.codeHash || this.#blobs.includes(record.codeHash)) return
    this.#blobs = [record.codeHash, ...this.#blobs].slice(0, MAX_BLOBS)
  }

  localState(): LocalState {
    const st = this.#invoker.state()
    return {
      capacity: {
        budgetMiB: st.budgetMiB,
        budgetFreeMiB: st.budgetFreeMiB,
        freeSlots: st.freeSlots,
        inflight: st.inflight + this.#inflight(),
      },
      warm: st.warmSlots,
      prewarm: st.prewarm,
      blobs: this.#blobs,
      ns: this.#load(),
      q: this.#queue(),
    }
  }
}
