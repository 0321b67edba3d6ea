import { BUCKETS, type Db } from './db.ts'

export interface PeerEntry {
  peerId: string
  addrs: string[]
  updated?: number
}

/** Peers this node has joined or learned, so that a restart rejoins on its own. */
export class PeerRepository {
  readonly #peers

  constructor(db: Db) {
    this.#peers = db.sublevel<string, PeerEntry>(BUCKETS.peers, { valueEncoding: 'json' })
  }

  async list(): Promise<PeerEntry[]> {
    const out: PeerEntry[] = []
    for await (const v of this.#peers.values()) out.push(v)
    return out
  }

  async put(e: PeerEntry): Promise<void> {
    await this.#peers.put(e.peerId, { peerId: e.peerId, addrs: e.addrs, updated: Date.now() })
  }

  async remove(peerId: string): Promise<void> {
    await this.#peers.del(peerId)
  }
}
