import { createHash } from 'node:crypto'
import type Dockerode from 'dockerode'
import type { Logger } from '../log.ts'
import { ensureIsolation } from './isolation.ts'
import { deadlineSignal, withTimeout } from './timeout.ts'

/**
 * The bridge network function containers join. Isolation relied on:
 * - `enable_icc=false`: containers on it cannot talk to each other;
 * - no published ports, no host network, no docker socket or mounts in any container;
 * - the agent's API listens on a unix socket and 127.0.0.1, which a container's own loopback hides;
 * - the host itself (its bridge gateway address, and every other local address, e.g. the cluster
 *   port bound on 0.0.0.0) and the cloud metadata service are cut off by iptables/ip6tables rules
 *   on the bridge interface (isolation.ts); with isolateHost on, the invoker does not start without them.
 * Outbound traffic to other machines stays NATed as for any container (actions may call web APIs).
 */
export async function ensureNetwork(
  docker: Dockerode,
  name: string,
  opts: { isolateHost: boolean; timeoutMs: number; logger: Logger; signal?: AbortSignal },
): Promise<FunctionsBridge> {
  type Info = {
    Id: string
    Options?: Record<string, string>
    IPAM?: { Config?: Array<{ Gateway?: string }> }
  }
  const inspect = () =>
    withTimeout<Info>(docker.getNetwork(name).inspect(), opts.timeoutMs, 'network inspect')
  let info: Info
  try {
    info = await inspect()
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err
    try {
      await docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: { 'fnagent.network': 'functions' },
        Options: {
          'com.docker.network.bridge.enable_icc': 'false',
          'com.docker.network.bridge.name': bridgeName(name),
        },
        abortSignal: deadlineSignal(opts.timeoutMs, opts.signal),
      } as Dockerode.NetworkCreateOptions)
    } catch (e) {
      // Another agent on this host created it at the same moment.
      if ((e as { statusCode?: number }).statusCode !== 409) throw e
    }
    info = await inspect()
  }
  const bridge = info.Options?.['com.docker.network.bridge.name'] ?? `br-${info.Id.slice(0, 12)}`
  if (opts.isolateHost) {
    const how = await ensureIsolation(bridge)
    opts.logger.info(
      { bridge, how },
      'host isolation in place: function containers cannot reach this host or 169.254.0.0/16',
    )
  }
  const gateway = info.IPAM?.Config?.find((c) => c.Gateway && !c.Gateway.includes(':'))?.Gateway ?? null
  return { bridge, gateway }
}

/** The functions' bridge interface and the host's (IPv4) address on it, null when the engine names none. */
export interface FunctionsBridge {
  bridge: string
  gateway: string | null
}

/** The bridge interface of a function network (Linux interface names are at most 15 characters). */
export function bridgeName(network: string): string {
  return `fna-${createHash('sha256').update(network).digest('hex').slice(0, 10)}`
}
