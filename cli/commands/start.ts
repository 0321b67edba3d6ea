import type { Command } from 'commander'

interface StartOptions {
  dataDir?: string
  socket?: string
  config?: string
  clusterKey?: string
  listen?: string[]
  bootstrap?: string[]
  logLevel?: string
  pretty?: boolean
  cluster?: boolean
  apiListen?: string
  apiInsecurePlainHttp?: boolean
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run the agent in the foreground (SIGINT/SIGTERM drain and stop it)')
    .option('--config <file>', 'config file (default <data dir>/config.json)')
    .option('--cluster-key <file>', 'the cluster key file (default <data dir>/cluster.key)')
    .option('--listen <multiaddr...>', 'cluster listen addresses (default /ip4/0.0.0.0/tcp/7700)')
    .option('--bootstrap <peer...>', 'peers to dial at start, multiaddr or host:port')
    .option('--no-cluster', 'run alone, without the peer-to-peer cluster')
    .option('--api-listen <addr>', 'serve the OpenWhisk REST API and web actions on host:port (default off)')
    .option(
      '--api-insecure-plain-http',
      'allow --api-listen on a non-loopback address without TLS (API keys in clear text on the network)',
    )
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default info)')
    .option(
      '--pretty',
      'human-readable log lines (default on a terminal; JSON lines under systemd or in a pipe)',
    )
    .option('--no-pretty', 'JSON log lines even on a terminal')
    .action(async (_opts: StartOptions, cmd: Command) => {
      const o = cmd.optsWithGlobals<StartOptions>()
      const cluster: Record<string, unknown> = {}
      if (o.clusterKey) cluster.keyFile = o.clusterKey
      if (o.listen) cluster.listen = o.listen
      if (o.bootstrap) cluster.bootstrapPeers = o.bootstrap
      if (o.cluster === false) cluster.enabled = false
      const flags: Record<string, unknown> = {
        dataDir: o.dataDir,
        socket: o.socket,
        logLevel: o.logLevel,
        ...(Object.keys(cluster).length ? { cluster } : {}),
        ...(o.apiListen || o.apiInsecurePlainHttp
          ? {
              openwhiskApi: {
                ...(o.apiListen ? { listen: o.apiListen } : {}),
                ...(o.apiInsecurePlainHttp ? { insecurePlainHttp: true } : {}),
              },
            }
          : {}),
      }
      // Loaded on demand: the other verbs stay quick to start.
      const { runAgent } = await import('../../agent/main.ts')
      process.exitCode = await runAgent({ flags, configFile: o.config, pretty: o.pretty })
    })
}
