import type { Command } from 'commander'
import type { ClusterQueue, QueueStats } from '../../agent/queue/index.ts'
import { NoAgentError } from '../client.ts'
import { clientFor, type GlobalOptions, wantsJson } from '../context.ts'
import { printFields, printJson, printTable } from '../output.ts'

export function registerStatusCommands(program: Command): void {
  program
    .command('status')
    .description('this node and what it sees of the cluster')
    .action(async (_o: unknown, cmd: Command) => {
      const status = await clientFor(cmd).get<Record<string, unknown>>('/v1/status')
      if (wantsJson(cmd)) return printJson(status)
      printFields(Object.entries(status))
    })

  program
    .command('config')
    .description("the effective configuration (the running agent's, else computed from file and environment)")
    .option('--config <file>', 'config file (default <data dir>/config.json)')
    .action(async (o: { config?: string }, cmd: Command) => {
      let config: unknown
      try {
        config = await clientFor(cmd).get('/v1/config')
      } catch (err) {
        if (!(err instanceof NoAgentError)) throw err
        const g = cmd.optsWithGlobals<GlobalOptions>()
        // The config schema (zod) is loaded only here, where it is needed.
        const { loadConfig } = await import('../../agent/config/index.ts')
        config = loadConfig({ flags: { dataDir: g.dataDir, socket: g.socket }, configFile: o.config })
        process.stderr.write('(no agent running: showing the config a start would use)\n')
      }
      printJson(config)
    })
}

export function registerQueueCommand(program: Command): void {
  program
    .command('queue')
    .description(
      'the durable async queue of the whole cluster, as each node gossips it: waiting jobs per priority and per node, running, oldest wait, dead letters',
    )
    .action(async (_o: unknown, cmd: Command) => {
      const q = await clientFor(cmd).get<QueueAnswer>('/v1/queue')
      if (wantsJson(cmd)) return printJson(q)
      const wait = (t: number | null) => (t === null ? '-' : `${Math.max(0, Date.now() - t)} ms`)
      const { total } = q.cluster
      printTable(
        ['NODE', 'WAITING P0', 'P1', 'P2', 'RUNNING', 'OLDEST WAIT', 'DEAD LETTERS'],
        [...q.cluster.nodes, { node: 'cluster', self: false, ...total }].map((n) => [
          n.self ? `${n.node} (this node)` : n.node,
          ...n.waiting,
          n.running,
          wait(n.oldestAccepted),
          n.deadLetters,
        ]),
      )
      printFields([
        ['cluster bound', `${total.jobs} of ${q.clusterMaxJobs} jobs (queue.clusterMaxJobs)`],
        [
          'this node',
          `${q.waiting.reduce((a, b) => a + b, 0) + q.running} of ${q.maxJobs} jobs (queue.maxJobs)`,
        ],
        ['yielded to other nodes', q.yielded],
        ['dead letters held here', q.deadLetters],
      ])
    })
}

type QueueAnswer = QueueStats & { deadLetters: number; clusterMaxJobs: number; cluster: ClusterQueue }
