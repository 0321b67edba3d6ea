import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '../log.ts'
import { backoff, dialTarget, isConnected, type PeerBook, type PeerBookEntry } from './dialer.ts'
import type { ClusterNode } from './node.ts'

export interface ConnectorComponents {
  logger: Logger
  node: ClusterNode
  peerBook: PeerBook
  /** Live members with their advertised addresses (self excluded). */
  members: () => PeerBookEntry[]
}

export interface ConnectorInit {
  bootstrapPeers: string[]
  meshConnections: number
  dialTimeoutMs: number
  intervalMs: number
}

const MAX_PARALLEL = 16

function pick<T>(xs: T[], n: number): T[] {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a.slice(0, n)
}

/**
 * Keeps this node connected: while it has no peer, dials the bootstrap peers, the persisted peers
 * and the known members, retrying with backoff until one answers (a fleet forms whatever order its
 * VMs boot in); while it has fewer than `meshConnections`, dials a few live members. The connection
 * manager caps the total at `maxConnections`; other peers are dialled on demand.
 */
export class Connector {
  readonly #c: ConnectorComponents
  readonly #init: ConnectorInit
  #controller: AbortController | undefined

  constructor(components: ConnectorComponents, init: ConnectorInit) {
    this.#c = components
    this.#init = init
  }

  start(): void {
    if (this.#controller) return
    const controller = new AbortController()
    this.#controller = controller
    this.#loop(controller.signal).catch((err) => {
      if (!controller.signal.aborted) this.#c.logger.error({ err }, 'connector stopped')
    })
  }

  stop(): void {
    this.#controller?.abort()
    this.#controller = undefined
  }

  async #loop(signal: AbortSignal): Promise<void> {
    let attempt = 0
    while (!signal.aborted) {
      if (this.#c.node.getPeers().length === 0) {
        const targets = await this.#startTargets()
        if (targets.length > 0 && !(await this.#tryAny(targets, signal))) {
          this.#c.logger.debug({ attempt, targets: targets.length }, 'no peer answered; retrying')
          await backoff(attempt++, signal)
          continue
        }
        attempt = 0
      } else if (this.#c.node.getPeers().length < this.#init.meshConnections) {
        const idle = this.#c.members().filter((m) => !isConnected(this.#c.node, m.peerId))
        await this.#tryAny(pick(idle, 2), signal)
      }
      await sleep(this.#init.intervalMs, undefined, { signal })
    }
  }

  async #startTargets(): Promise<Array<string | PeerBookEntry>> {
    const persisted = await this.#c.peerBook.list().catch((err) => {
      this.#c.logger.warn({ err }, 'could not read the persisted peers')
      return [] as PeerBookEntry[]
    })
    const known = new Map<string, PeerBookEntry>()
    for (const e of [...persisted, ...this.#c.members()]) known.set(e.peerId, e)
    return [...this.#init.bootstrapPeers, ...pick([...known.values()], MAX_PARALLEL)]
  }

  async #tryAny(targets: Array<string | PeerBookEntry>, signal: AbortSignal): Promise<boolean> {
    if (targets.length === 0) return false
    const dialSignal = AbortSignal.any([signal, AbortSignal.timeout(this.#init.dialTimeoutMs)])
    const results = await Promise.allSettled(targets.map((t) => dialTarget(this.#c, t, dialSignal)))
    for (const r of results)
      if (r.status === 'rejected') this.#c.logger.debug({ err: r.reason }, 'dial failed')
    return results.some((r) => r.status === 'fulfilled')
  }
}
