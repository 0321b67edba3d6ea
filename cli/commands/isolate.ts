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
      if (g.json) printJson({ isolateHost: true, bridge, digest, rules })
      else
        process.stdout.write(
          `host isolation installed for bridge ${bridge} (network ${config.invoker.network}; agent ports ${ports.join(', ') || 'none'} refused everywhere): ${rules.length} rules\n`,
        )
    })
}
