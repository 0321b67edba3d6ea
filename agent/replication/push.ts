import type {
  ActivationRecord,
  ApiKeyRecord,
  EventRecord,
  NamespaceRecord,
  PackageRecord,
} from '../store/index.ts'
import { ackSchema, type FnEntry } from './messages.ts'
import type { Wire } from './wire.ts'

type None = {
  fn?: undefined
  act?: undefined
  key?: undefined
  pkg?: undefined
  ns?: undefined
  evt?: undefined
}
type Item =
  | (Omit<None, 'fn'> & { fn: FnEntry })
  | (Omit<None, 'act'> & { act: ActivationRecord })
  | (Omit<None, 'key'> & { key: ApiKeyRecord })
  | (Omit<None, 'pkg'> & { pkg: PackageRecord })
  | (Omit<None, 'ns'> & { ns: NamespaceRecord })
  | (Omit<None, 'evt'> & { evt: EventRecord })
interface Pending {
  item: Item
  bytes: number
  resolve: (held: boolean) => void
}

/**
 * Pushes records to peers: one queue per peer, drained one `push` message at a time, each message
 * carrying what queued up meanwhile (up to `maxBatchBytes`, at least one item). Resolves each item
 * with whether the peer confirmed it holds it; a failed push resolves false (anti-entropy or the
 * handoff queue retries).
 */
export class Pusher {
  readonly #wire: Wire
  readonly #now: () => string
  readonly #opts: { maxBatchBytes: number; maxQueueBytes: number; timeoutMs: number }
  readonly #signal: AbortSignal
  readonly #queues = new Map<string, { items: Pending[]; bytes: number; busy: boolean }>()

  constructor(
    wire: Wire,
    now: () => string,
    opts: { maxBatchBytes: number; maxQueueBytes: number; timeoutMs: number },
    signal: AbortSignal,
  ) {
    this.#wire = wire
    this.#now = now
    this.#opts = opts
    this.#signal = signal
  }

  send(peerId: string, item: Item): Promise<boolean> {
    const q = this.#queues.get(peerId) ?? { items: [], bytes: 0, busy: false }
    this.#queues.set(peerId, q)
    const bytes = JSON.stringify(item.fn ?? item.act ?? item.key ?? item.pkg ?? item.ns ?? item.evt).length
    if (this.#signal.aborted || (q.bytes > 0 && q.bytes + bytes > this.#opts.maxQueueBytes)) {
      return Promise.resolve(false)
    }
    const queue = q
    return new Promise((resolve) => {
      queue.items.push({ item, bytes, resolve })
      queue.bytes += bytes
      if (!queue.busy) {
        queue.busy = true
        setImmediate(() => void this.#drain(peerId, queue))
      }
    })
  }

  async #drain(peerId: string, q: { items: Pending[]; bytes: number; busy: boolean }): Promise<void> {
    while (q.items.length > 0) {
      let n = 0
      let bytes = 0
      while (n < q.items.length && (n === 0 || bytes + q.items[n]!.bytes <= this.#opts.maxBatchBytes)) {
        bytes += q.items[n]!.bytes
        n++
      }
      const batch = q.items.splice(0, n)
      q.bytes -= bytes
      const fns = batch.filter((p) => p.item.fn)
      const acts = batch.filter((p) => p.item.act)
      const keys = batch.filter((p) => p.item.key)
      const pkgs = batch.filter((p) => p.item.pkg)
      const nss = batch.filter((p) => p.item.ns)
      const evts = batch.filter((p) => p.item.evt)
      try {
        if (this.#signal.aborted) throw new Error('stopped')
        const ack = await this.#wire.request(
          peerId,
          {
            type: 'push',
            hlc: this.#now(),
            functions: fns.map((p) => p.item.fn!),
            activations: acts.map((p) => p.item.act!),
            // Only when there are keys: a push without them stays what older agents accept.
            ...(keys.length > 0 ? { keys: keys.map((p) => p.item.key!) } : {}),
            ...(pkgs.length > 0 ? { packages: pkgs.map((p) => p.item.pkg!) } : {}),
            ...(nss.length > 0 ? { namespaces: nss.map((p) => p.item.ns!) } : {}),
            ...(evts.length > 0 ? { events: evts.map((p) => p.item.evt!) } : {}),
          },
          ackSchema,
          AbortSignal.any([this.#signal, AbortSignal.timeout(this.#opts.timeoutMs)]),
        )
        for (const [i, p] of fns.entries()) p.resolve(ack.functions[i] === true)
        for (const [i, p] of acts.entries()) p.resolve(ack.activations[i] === true)
        for (const [i, p] of keys.entries()) p.resolve(ack.keys[i] === true)
        for (const [i, p] of pkgs.entries()) p.resolve(ack.packages[i] === true)
        for (const [i, p] of nss.entries()) p.resolve(ack.namespaces[i] === true)
        for (const [i, p] of evts.entries()) p.resolve(ack.events[i] === true)
      } catch {
        for (const p of batch) p.resolve(false)
      }
    }
    q.busy = false
    this.#queues.delete(peerId)
  }
}
