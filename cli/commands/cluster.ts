import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import type { MemberView } from '../../agent/cluster/index.ts'
import { clientFor, type GlobalOptions, UsageError, wantsJson } from '../context.ts'
import { ago, printJson, printTable } from '../output.ts'

function dataDir(cmd: Command): string {
  const g = cmd.optsWithGlobals<GlobalOptions>()
  return resolve(g.dataDir ?? process.env.FNAGENT_DATA_DIR ?? join(process.env.HOME ?? '.', '.fnagent'))
}

function keyPath(cmd: Command, file?: string): string {
  return resolve(file ?? process.env.FNAGENT_CLUSTER_KEY_FILE ?? join(dataDir(cmd), 'cluster.key'))
}

export function registerClusterCommands(program: Command): void {
  const cluster = program
    .command('cluster')
    .description('the cluster key: create it once, give it to every node')

  cluster
    .command('init')
    .description('create a new cluster key (0600) for the first node; copy it to every other node')
    .option('--key-file <file>', 'where to write it (default <data dir>/cluster.key)')
    .action(async (o: { keyFile?: string }, cmd: Command) => {
      const { writeClusterKey } = await import('../../agent/cluster/keys.ts')
      const { mkdirSync } = await import('node:fs')
      const file = keyPath(cmd, o.keyFile)
      mkdirSync(resolve(file, '..'), { recursive: true, mode: 0o700 })
      await writeClusterKey(file)
      process.stdout.write(
        `created cluster key ${file}\nstart this node with 'fnagent start'; give the file to the others (fnagent start --cluster-key FILE)\n`,
      )
    })

  cluster
    .command('key')
    .description('print the cluster key, to copy to another node')
    .option('--key-file <file>', 'the key file (default <data dir>/cluster.key)')
    .action((o: { keyFile?: string }, cmd: Command) => {
      const file = keyPath(cmd, o.keyFile)
      try {
        process.stdout.write(readFileSync(file, 'utf8'))
      } catch {
        throw new UsageError(`no cluster key at ${file}; create one with 'fnagent cluster init'`)
      }
    })

  program
    .command('join <peer>')
    .description('join the cluster of PEER (a multiaddr /ip4/…/tcp/7700/p2p/12D3Koo…, or host:port)')
    .action(async (peer: string, _o: unknown, cmd: Command) => {
      const res = await clientFor(cmd).call<{ joined: string }>('POST', '/v1/cluster/join', { peer })
      if (wantsJson(cmd)) printJson(res.body)
      else
        process.stdout.write(
          `joined ${res.body.joined}; the other members arrive by gossip ('fnagent peers')\n`,
        )
    })

  program
    .command('leave')
    .description('announce that this node leaves the cluster (peers drop it at once)')
    .action(async (_o: unknown, cmd: Command) => {
      await clientFor(cmd).call('POST', '/v1/cluster/leave')
      process.stdout.write('left the cluster\n')
    })

  program
    .command('peers')
    .description('the members this node sees: state, load, memory, free slots, warm containers')
    .action(async (_o: unknown, cmd: Command) => {
      const view = await clientFor(cmd).get<MemberView[]>('/v1/peers')
      if (wantsJson(cmd)) return printJson(view)
      printTable(
        ['peer', 'address', 'state', 'last heard', 'load', 'mem free', 'free slots', 'warm'],
        view.map((m) => [
          `${m.peerId.slice(0, 8)}…${m.peerId.slice(-6)}${m.self ? ' (self)' : ''}`,
          m.addrs[0] ?? '',
          m.state,
          m.self ? '-' : ago(m.lastHeard),
          `${Math.round(m.capacity.load)}%`,
          `${m.capacity.memFreeMiB} MiB`,
          m.capacity.freeSlots,
          Object.values(m.warm).reduce((a, b) => a + b, 0),
        ]),
      )
    })
}
