import type { Command } from 'commander'
import type { GlobalOptions } from '../context.ts'
import { printJson } from '../output.ts'

/**
 * `fnagent isolate`: installs the host isolation rules of the configured function network as root,
 * before an agent that runs without capabilities starts (the systemd unit's `ExecStartPre=+`).
 * Exits non-zero when it cannot, so the unit does not start the agent.
 */
export function registerIsolateCommand(program: Command): void {
  program
    .command('isolate')
    .description(
      'install the iptables/ip6tables rules that keep function containers off this host and the metadata service (as root)',
    )
    .option('--config <file>', 'config file (default <data dir>/config.json)')
    .action(async (o: { config?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions & { json?: boolean }>()
      const { loadConfig } = await import('../../agent/config/index.ts')
      const { bridgeName } = await import('../../agent/invoker/network.ts')
      const { installIsolation } = await import('../../agent/invoker/isolation.ts')
      const { agentPorts } = await import('../../agent/preflight.ts')
      const config = loadConfig({ flags: { dataDir: g.dataDir }, configFile: o.config })
      if (!config.invoker.isolateHost) {
        if (g.json) printJson({ isolateHost: false })
        else process.stdout.write('host isolation is off (invoker.isolateHost: false): nothing to install\n')
        return
      }
      const bridge = bridgeName(config.invoker.network)
      const ports = agentPorts(config).map((p) => p.port)
      const { rules, digest } = await installIsolation(bridge, { ports })
      // The one opening, for actions that call the platform: with a fixed bridge port, opened here
      // as root, so an agent without the privilege can serve it (it reads the stamp).
      const port = config.openwhiskApi.bridgePort
      let endpoint: { address: string; port: number } | null = null
      if (config.openwhiskApi.listen && typeof port === 'number' && port > 0) {
        const { createDocker } = await import('../../agent/docker.ts')
        const { ensureNetwork } = await import('../../agent/invoker/network.ts')
        const { openEndpoint, stampEndpoint } = await import('../../agent/invoker/isolation.ts')
        const { silentLogger } = await import('../../agent/log.ts')
        const net = await ensureNetwork(createDocker(), config.invoker.network, {
          isolateHost: false,
          timeoutMs: config.invoker.dockerTimeoutMs,
          logger: silentLogger(),
        })
        if (net.gateway) {
          await openEndpoint(bridge, net.gateway, port)
          await stampEndpoint(bridge, net.gateway, port)
          endpoint = { address: net.gateway, port }
        }
      }
      if (g.json) printJson({ isolateHost: true, bridge, digest, rules, endpoint })
      else
        process.stdout.write(
          `host isolation installed for bridge ${bridge} (network ${config.invoker.network}; agent ports ${ports.join(', ') || 'none'} refused everywhere): ${rules.length} rules${endpoint ? `; the OpenWhisk API open to functions at ${endpoint.address}:${endpoint.port}` : ''}\n`,
        )
    })
}
