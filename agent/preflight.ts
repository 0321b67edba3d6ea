import { constants, existsSync, mkdirSync } from 'node:fs'
import { access } from 'node:fs/promises'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { parseListen } from './api/openwhisk/options.ts'
import { readClusterKey } from './cluster/index.ts'
import { writeClusterKey } from './cluster/keys.ts'
import type { Config } from './config/index.ts'
import { createDocker } from './docker.ts'
import { errors } from './errors.ts'
import { ensureIsolation } from './invoker/isolation.ts'
import { bridgeName } from './invoker/network.ts'
import type { Logger } from './log.ts'

/**
 * Everything `fnagent start` needs, checked before anything starts: the data and socket
 * directories are writable, the Docker engine answers, host isolation is in place, the cluster and
 * API ports are free, and there is a cluster key. Every problem is reported at once, in one
 * START_PRECONDITION error (one line each, with what to do).
 *
 * The first start of a new user: no cluster key at the default place and no peers to join means a
 * new one-node cluster; its key is created there (as `fnagent cluster init` does) and the log says
 * where, and what to give the next node. With peers configured (or a key file named explicitly)
 * the key must already be there: a fresh key would start a second, separate cluster.
 */
export async function preflight(
  config: Config,
  logger: Logger,
  opts: {
    dockerPingMs?: number
    isolate?: (bridge: string, o: { ports: number[] }) => Promise<unknown>
  } = {},
): Promise<{ createdKey: string | null }> {
  const problems: string[] = []

  const writable = async (dir: string, what: string) => {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      await access(dir, constants.W_OK)
    } catch (err) {
      problems.push(`${what} ${dir} is not writable by this user: ${(err as Error).message}`)
    }
  }
  await writable(config.dataDir, 'the data directory')
  await writable(dirname(config.socket), 'the socket directory')

  const docker = createDocker()
  try {
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('no answer')), opts.dockerPingMs ?? 10_000).unref(),
      ),
    ])
  } catch (err) {
    const where = process.env.DOCKER_HOST ?? '/var/run/docker.sock'
    problems.push(
      `the Docker engine does not answer at ${where} (${(err as Error).message}): start it, and make this user a member of the docker group`,
    )
  }

  if (config.invoker.isolateHost) {
    try {
      await (opts.isolate ?? ensureIsolation)(bridgeName(config.invoker.network), {
        ports: agentPorts(config).map((p) => p.port),
      })
    } catch (err) {
      problems.push((err as Error).message)
    }
  }

  for (const { host, port, what } of agentPorts(config)) {
    const free = await portFree(host, port)
    if (free !== true)
      problems.push(`the ${what} ${host}:${port} cannot be bound (${free}): is another agent running?`)
  }

  let createdKey: string | null = null
  if (config.cluster.enabled) {
    const defaultKey = join(config.dataDir, 'cluster.key')
    const keyFile = config.cluster.keyFile ?? defaultKey
    if (!existsSync(keyFile)) {
      const alone = config.cluster.bootstrapPeers.length === 0
      if (alone && keyFile === defaultKey && problems.length === 0) {
        await writeClusterKey(keyFile)
        createdKey = keyFile
        logger.info(
          { keyFile },
          `first start: no cluster key and no peers, so this node starts a new one-node cluster; its key is ${keyFile}: copy it to every node that joins (fnagent start --cluster-key FILE --bootstrap THIS_HOST:PORT)`,
        )
      } else if (!alone || keyFile !== defaultKey) {
        problems.push(
          `no cluster key at ${keyFile}${alone ? '' : ` (peers to join: ${config.cluster.bootstrapPeers.join(', ')})`}: copy the cluster's key file there from any member ('fnagent cluster key' prints it), or start alone with --no-cluster`,
        )
      }
    } else {
      await readClusterKey(keyFile).catch((err: unknown) => problems.push((err as Error).message))
    }
  }

  if (problems.length > 0) {
    throw errors.startPrecondition(
      `fnagent cannot start; nothing was started:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      { details: { problems } },
    )
  }
  return { createdKey }
}

/** The agent's own TCP listeners: the cluster port(s) and the OpenWhisk API port. */
export function agentPorts(config: Config): Array<{ host: string; port: number; what: string }> {
  const out: Array<{ host: string; port: number; what: string }> = []
  if (config.cluster.enabled) {
    for (const addr of config.cluster.listen) {
      const m = /^\/ip([46])\/([^/]+)\/tcp\/(\d+)/.exec(addr)
      if (m && Number(m[3]) > 0) out.push({ host: m[2] as string, port: Number(m[3]), what: 'cluster port' })
    }
  }
  if (config.openwhiskApi.listen) out.push({ ...parseListen(config.openwhiskApi.listen), what: 'API port' })
  return out
}

/** True when a listener can be opened on host:port now, else the reason. */
function portFree(host: string, port: number): Promise<true | string> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)))
  })
}
