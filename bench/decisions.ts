import { Membership } from '../agent/cluster/membership.ts'
import type { FullHeartbeat } from '../agent/cluster/messages.ts'
import { PlacementViewCache } from '../agent/cluster/view.ts'
import { chooseCandidates, withSelf } from '../agent/placement/choose.ts'
import { OptimisticView } from '../agent/placement/optimistic.ts'
import { PLACEMENT_DEFAULTS } from '../agent/placement/options.ts'
import type { PlacementTarget } from '../agent/placement/score.ts'

/**
 * Placement decisions per second: what the receiving agent computes before its first ask (the
 * cluster's placement view, the optimistic updates, the candidate list), over a membership of N
 * members fed with full heartbeats as the cluster receives them, 200 functions spread warm across
 * them (5 per member), and one member in 50 suspect. Per CPU second of the one thread deciding.
 */
export function benchDecisions(
  sizes = [10, 100, 1000],
  seconds = 1,
): Array<{ members: number; usPerDecision: number; perSecond: number }> {
  const out = []
  for (const n of sizes) {
    let seed = 42
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed / 0x7fffffff
    }
    const fnKey = (i: number) => `guest/fn${i}@1`
    const membership = new Membership({ suspectMs: 3000, deadMs: 10_000, removeMs: 60_000 })
    const peer = (i: number) => `12D3KooWPeer${String(i).padStart(6, '0')}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`
    for (let i = 1; i < n; i++) {
      const warm: Record<string, number> = {}
      for (let k = 0; k < 5; k++) warm[fnKey(Math.floor(random() * 200))] = 1 + Math.floor(random() * 3)
      const msg: FullHeartbeat = {
        t: 'full',
        peer: peer(i),
        seq: 1,
        hlc: '0',
        iv: 1000,
        ver: '0.1.0',
        addrs: [`/ip4/10.0.${i >> 8}.${i & 255}/tcp/7700`],
        cap: {
          cpus: 2,
          load: Math.floor(random() * 100),
          memTotalMiB: 24_000,
          memFreeMiB: 10_000 + Math.floor(random() * 8000),
          budgetMiB: 8192,
          budgetFreeMiB: Math.floor(random() * 8192),
          freeSlots: Math.floor(random() * 8),
          inflight: Math.floor(random() * 8),
        },
        warm,
        prewarm: { 'nodejs:24@256': 1 },
        blobs: [],
      } as unknown as FullHeartbeat
      membership.receive(msg)
      if (random() < 0.02) membership.probeResult(peer(i), false)
    }
    const cache = new PlacementViewCache()
    const self = {
      peerId: peer(0),
      state: 'alive' as const,
      self: true,
      seq: 1,
      capacity: {
        cpus: 2,
        load: 10,
        memTotalMiB: 24_000,
        memFreeMiB: 12_000,
        budgetMiB: 8192,
        budgetFreeMiB: 4096,
        freeSlots: 4,
        inflight: 0,
      },
      warm: { [fnKey(1)]: 1 },
      prewarm: {},
      blobs: [],
    }
    const optimistic = new OptimisticView()
    const targets: PlacementTarget[] = Array.from({ length: 200 }, (_, i) => ({
      warmKey: fnKey(i),
      prewarmKey: 'nodejs:24@256',
      homeKey: `guest/fn${i}`,
      memoryMiB: 256,
    }))
    let decisions = 0
    let sink = 0
    const decide = () => {
      const t = targets[decisions % targets.length]!
      const view = optimistic.apply(cache.view(membership, { ...self }))
      sink += withSelf(
        chooseCandidates(view, t, { ...PLACEMENT_DEFAULTS, random }),
        self.peerId,
        false,
      ).length
      decisions++
    }
    for (let i = 0; i < 2000; i++) decide()
    decisions = 0
    // CPU time, not wall time: the goal is per core, and a busy machine stretches wall time.
    const cpu = process.cpuUsage()
    const started = performance.now()
    while (performance.now() - started < seconds * 1000) for (let i = 0; i < 50; i++) decide()
    const used = process.cpuUsage(cpu)
    const ms = (used.user + used.system) / 1000
    if (sink < 0) console.log(sink)
    out.push({
      members: n,
      usPerDecision: Number(((ms * 1000) / decisions).toFixed(2)),
      perSecond: Math.round((decisions * 1000) / ms),
    })
  }
  return out
}

if (import.meta.main) console.log(JSON.stringify(benchDecisions()))
