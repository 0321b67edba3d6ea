import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { errors } from '../errors.ts'

const exec = promisify(execFile)

/**
 * Host isolation of the function containers' bridge, fail-closed. Traffic that enters the host
 * from the bridge is rejected (IPv4 and IPv6) unless it answers a connection the host opened (the
 * agent calling `/init` and `/run`): no function reaches sshd, the cluster port, the API port or
 * any other local address. Traffic the host forwards from the bridge to the link-local range
 * (the cloud metadata service, 169.254.169.254 and fe80::a9fe:a9fe) is rejected too. REJECT (a TCP
 * reset) rather than DROP: a function fails at once instead of hanging until its timeout.
 *
 * Installing the rules needs CAP_NET_ADMIN. An agent running as root installs them itself; the
 * systemd unit runs the agent without capabilities and installs them before it with
 * `ExecStartPre=+fnagent isolate` (as root), which records what it installed in a stamp under
 * /run. Either way the agent refuses to start when isolation is on and the rules are not there.
 */
export interface Rule {
  tool: 'iptables' | 'ip6tables'
  chain: string
  args: string[]
}

/** Where `fnagent isolate` records the rules it installed (a tmpfs: gone at reboot, with the rules). */
export const ISOLATION_STAMP_DIR = '/run/fnagent-isolation'

/**
 * The rules for one bridge, in the order they must appear at the top of their chains. `ports`: the
 * agent's own TCP ports (cluster, API), refused also when forwarded, so that a function cannot reach
 * them on the other members either (their security group lets members in, and a function's traffic
 * leaves with its host's address).
 */
export function isolationRules(
  bridge: string,
  forwardChain: { v4: string; v6: string },
  ports: readonly number[] = [],
): Rule[] {
  const rules: Rule[] = []
  const families = [
    { tool: 'iptables', linkLocal: '169.254.0.0/16', forward: forwardChain.v4 },
    { tool: 'ip6tables', linkLocal: 'fe80::/10', forward: forwardChain.v6 },
  ] as const
  for (const f of families) {
    rules.push(
      {
        tool: f.tool,
        chain: 'INPUT',
        args: ['-i', bridge, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
      },
      {
        tool: f.tool,
        chain: 'INPUT',
        args: ['-i', bridge, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
      },
      { tool: f.tool, chain: 'INPUT', args: ['-i', bridge, '-j', 'REJECT'] },
      {
        tool: f.tool,
        chain: f.forward,
        args: ['-i', bridge, '-d', f.linkLocal, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
      },
      { tool: f.tool, chain: f.forward, args: ['-i', bridge, '-d', f.linkLocal, '-j', 'REJECT'] },
    )
    if (ports.length > 0) {
      const list = [...new Set(ports)].sort((a, b) => a - b).join(',')
      rules.push({
        tool: f.tool,
        chain: f.forward,
        args: [
          '-i',
          bridge,
          '-p',
          'tcp',
          '-m',
          'multiport',
          '--dports',
          list,
          '-j',
          'REJECT',
          '--reject-with',
          'tcp-reset',
        ],
      })
    }
  }
  return rules
}

/**
 * The one opening: TCP from the bridge to the OpenWhisk API endpoint the agent serves for its
 * function containers on its own address on that bridge (and nothing else on the host).
 */
export function endpointRule(bridge: string, address: string, port: number): Rule {
  return {
    tool: 'iptables',
    chain: 'INPUT',
    args: ['-i', bridge, '-d', address, '-p', 'tcp', '--dport', String(port), '-j', 'ACCEPT'],
  }
}

/**
 * Opens the endpoint above the isolation rules (needs CAP_NET_ADMIN); resolves with the function
 * that closes it again. Throws ISOLATION_UNAVAILABLE with the tool's words when it cannot.
 */
export async function openEndpoint(
  bridge: string,
  address: string,
  port: number,
  run: Run = runTool,
  stampDir = ISOLATION_STAMP_DIR,
): Promise<() => Promise<void>> {
  const r = endpointRule(bridge, address, port)
  try {
    await run(r.tool, ['-D', r.chain, ...r.args]).catch(() => {})
    await run(r.tool, ['-I', r.chain, '1', ...r.args])
  } catch (err) {
    // An agent without the privilege (the systemd unit's): `fnagent isolate` opened this very
    // endpoint as root before it started (a fixed openwhiskApi.bridgePort); the rule is the unit's.
    if (await endpointStamped(bridge, address, port, stampDir)) return async () => {}
    throw errors.isolationUnavailable(
      `cannot open the OpenWhisk API endpoint ${address}:${port} on bridge ${bridge}: ${toolMessage(err)}`,
      { cause: err },
    )
  }
  return () => run(r.tool, ['-D', r.chain, ...r.args]).catch(() => {})
}

function endpointStampFile(dir: string, bridge: string): string {
  return join(dir, `${bridge}.endpoint.json`)
}

/** Records (as root, after opening it) the endpoint an unprivileged agent will serve. */
export async function stampEndpoint(
  bridge: string,
  address: string,
  port: number,
  dir = ISOLATION_STAMP_DIR,
): Promise<void> {
  await mkdir(dir, { recursive: true })
  await chmod(dir, 0o755)
  const file = endpointStampFile(dir, bridge)
  await writeFile(
    `${file}.tmp`,
    `${JSON.stringify({ bridge, address, port, rule: endpointRule(bridge, address, port) })}\n`,
  )
  await chmod(`${file}.tmp`, 0o644)
  await rename(`${file}.tmp`, file)
}

/** Whether `fnagent isolate` opened exactly this endpoint. */
export async function endpointStamped(
  bridge: string,
  address: string,
  port: number,
  dir = ISOLATION_STAMP_DIR,
): Promise<boolean> {
  const stamp = await readFile(endpointStampFile(dir, bridge), 'utf8')
    .then((t) => JSON.parse(t) as { bridge?: string; address?: string; port?: number })
    .catch(() => null)
  return stamp?.bridge === bridge && stamp.address === address && stamp.port === port
}

/** A digest of the rules, written into the stamp and compared by the agent. */
export function rulesDigest(rules: readonly Rule[]): string {
  return createHash('sha256').update(JSON.stringify(rules)).digest('hex').slice(0, 16)
}

type Run = (tool: string, args: string[]) => Promise<void>

const runTool: Run = async (tool, args) => {
  await exec(tool, ['-w', '5', ...args], { timeout: 15_000 })
}

/** IPv6 is off in the kernel (ipv6.disable=1): there is nothing to isolate and no ip6tables. */
function ipv6Enabled(): boolean {
  return existsSync('/proc/net/if_inet6')
}

/**
 * Docker evaluates DOCKER-USER before its own forwarding rules (which would accept the traffic
 * first); without Docker's chain (IPv6 when the engine leaves ip6tables alone) FORWARD itself.
 */
async function forwardChains(run: Run): Promise<{ v4: string; v6: string }> {
  const has = (tool: string) =>
    run(tool, ['-n', '-L', 'DOCKER-USER']).then(
      () => true,
      () => false,
    )
  return {
    v4: (await has('iptables')) ? 'DOCKER-USER' : 'FORWARD',
    v6: ipv6Enabled() && (await has('ip6tables')) ? 'DOCKER-USER' : 'FORWARD',
  }
}

/** Puts every rule at the top of its chain, in order, unless all are already there. */
async function apply(rules: readonly Rule[], run: Run): Promise<void> {
  const groups = new Map<string, Rule[]>()
  for (const r of rules) {
    const k = `${r.tool} ${r.chain}`
    groups.set(k, [...(groups.get(k) ?? []), r])
  }
  for (const group of groups.values()) {
    const present = await Promise.all(
      group.map((r) =>
        run(r.tool, ['-C', r.chain, ...r.args]).then(
          () => true,
          () => false,
        ),
      ),
    )
    if (present.every(Boolean)) continue
    for (const r of group) await run(r.tool, ['-D', r.chain, ...r.args]).catch(() => {})
    for (const r of [...group].reverse()) await run(r.tool, ['-I', r.chain, '1', ...r.args])
  }
}

function stampFile(dir: string, bridge: string): string {
  return join(dir, `${bridge}.json`)
}

/**
 * Installs the rules (needs CAP_NET_ADMIN) and records them in the stamp. Throws
 * ISOLATION_UNAVAILABLE with the tool's own words when it cannot.
 */
export async function installIsolation(
  bridge: string,
  opts: { ports?: readonly number[]; stampDir?: string; run?: Run } = {},
): Promise<{ rules: Rule[]; digest: string }> {
  const run = opts.run ?? runTool
  const ports = [...new Set(opts.ports ?? [])].sort((a, b) => a - b)
  try {
    const rules = isolationRules(bridge, await forwardChains(run), ports).filter(
      (r) => r.tool === 'iptables' || ipv6Enabled(),
    )
    await apply(rules, run)
    const digest = rulesDigest(rules)
    const dir = opts.stampDir ?? ISOLATION_STAMP_DIR
    // Readable by the unprivileged agent whatever the umask (the unit's is 0027).
    await mkdir(dir, { recursive: true })
    await chmod(dir, 0o755)
    const file = stampFile(dir, bridge)
    await writeFile(`${file}.tmp`, `${JSON.stringify({ bridge, ports, digest, rules })}\n`)
    await chmod(`${file}.tmp`, 0o644)
    await rename(`${file}.tmp`, file)
    return { rules, digest }
  } catch (err) {
    throw errors.isolationUnavailable(
      `cannot install the host isolation rules for bridge ${bridge}: ${toolMessage(err)}`,
      { cause: err },
    )
  }
}

interface Stamp {
  bridge?: string
  ports?: number[]
  digest?: string
}

/**
 * The agent's side: installs the rules when it can (root); when it cannot (no CAP_NET_ADMIN, as
 * under the systemd unit), accepts them only if `fnagent isolate` recorded them for this bridge
 * (and these ports) since boot. Otherwise refuses with ISOLATION_UNAVAILABLE saying what to do.
 * `ports` unset: the ports recorded last for this bridge (the invoker's own check after preflight).
 */
export async function ensureIsolation(
  bridge: string,
  opts: { ports?: readonly number[]; stampDir?: string; run?: Run } = {},
): Promise<'installed' | 'preinstalled'> {
  const dir = opts.stampDir ?? ISOLATION_STAMP_DIR
  const stamp = await readFile(stampFile(dir, bridge), 'utf8')
    .then((t) => JSON.parse(t) as Stamp)
    .catch(() => null)
  const ports = [...new Set(opts.ports ?? stamp?.ports ?? [])].sort((a, b) => a - b)
  try {
    await installIsolation(bridge, { ...opts, ports })
    return 'installed'
  } catch (err) {
    const recorded = stamp?.bridge === bridge && typeof stamp.digest === 'string'
    if (recorded && JSON.stringify(stamp.ports ?? []) === JSON.stringify(ports)) return 'preinstalled'
    throw errors.isolationUnavailable(
      `${(err as Error).message}. Host isolation is on (invoker.isolateHost): run the agent as root, or install the rules as root before it starts with 'fnagent isolate --config FILE' (the systemd unit does this in ExecStartPre=+), or turn it off with invoker.isolateHost: false`,
      { cause: err },
    )
  }
}

function toolMessage(err: unknown): string {
  const e = err as { stderr?: string; code?: string | number; message?: string }
  if (e.code === 'ENOENT') return 'iptables is not installed'
  const text = (e.stderr ?? '').trim().split('\n').filter(Boolean).pop()
  return text || e.message || String(err)
}
