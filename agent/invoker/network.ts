import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import type Dockerode from 'dockerode'
import type { Logger } from '../log.ts'
import { deadlineSignal, withTimeout } from './timeout.ts'

const exec = promisify(execFile)

/**
 * The bridge network function containers join. Isolation relied on:
 * - `enable_icc=false`: containers on it cannot talk to each other;
 * - no published ports, no host network, no docker socket or mounts in any container;
 * - the agent's API listens on a unix socket and 127.0.0.1, which a container's own loopback hides;
 * - the host itself (its bridge gateway address, and every other local address, e.g. the cluster
 *   port bound on 0.0.0.0) is cut off by an iptables INPUT rule on the bridge interface that drops
 *   everything but replies to connections the host opened (the agent calling `/init` and `/run`).
 * Outbound traffic to other machines stays NATed as for any container (actions may call web APIs).
 */
export async function ensureNetwork(
  docker: Dockerode,
  name: string,
  opts: { isolateHost: boolean; timeoutMs: number; logger: Logger; signal?: AbortSignal },
): Promise<{ bridge: string }> {
  const inspect = () =>
    withTimeout<{ Id: string; Options?: Record<string, string> }>(
      docker.getNetwork(name).inspect(),
      opts.timeoutMs,
      'network inspect',
    )
  let info: { Id: string; Options?: Record<string, string> }
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
  if (opts.isolateHost) await isolateHost(bridge, opts.logger)
  return { bridge }
}

/** Linux interface names are at most 15 characters. */
function bridgeName(network: string): string {
  return `fna-${createHash('sha256').update(network).digest('hex').slice(0, 10)}`
}

async function isolateHost(bridge: string, logger: Logger): Promise<void> {
  const rules = [
    // Inserted at the top in this order, so ACCEPT (replies) ends up above DROP.
    ['-i', bridge, '-j', 'DROP'],
    ['-i', bridge, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
  ]
  const ipt = (args: string[]) => exec('iptables', ['-w', '5', ...args], { timeout: 10_000 })
  try {
    const present = await Promise.all(
      rules.map((r) =>
        ipt(['-C', 'INPUT', ...r]).then(
          () => true,
          () => false,
        ),
      ),
    )
    if (present.every(Boolean)) return
    for (const r of rules) await ipt(['-D', 'INPUT', ...r]).catch(() => {})
    for (const r of rules) await ipt(['-I', 'INPUT', '1', ...r])
  } catch (err) {
    logger.warn(
      { err, bridge },
      'could not add the iptables rule that keeps function containers from reaching host ports',
    )
  }
}
