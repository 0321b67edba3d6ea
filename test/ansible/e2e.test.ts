// The Ansible role for real: e2e.sh runs configure.yml against three local containers standing
// in for VMs, starts the agents, waits until each sees the three hosts alive, deploys a function
// on host 1 and invokes it from host 3, and checks that a second run reports changed=0.
// Needs what .ci/setup installs (Docker engine, debootstrap, ansible) and root; the runtime
// images come from the global setup (test/setup/runtimes.ts). The hosts' root filesystem is
// made once and cached under ~/.cache/fnagent: a few minutes the first time, about two after.
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const here = dirname(fileURLToPath(import.meta.url))
/** The script bounds each of its own steps; this is the last resort. */
const TIMEOUT_MS = 20 * 60_000

function runScript(script: string): Promise<{ code: number | null; signal: string | null; output: string }> {
  return new Promise((done) => {
    const chunks: Buffer[] = []
    const child = spawn('bash', [script], {
      env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout.on('data', (c: Buffer) => chunks.push(c))
    child.stderr.on('data', (c: Buffer) => chunks.push(c))
    // SIGTERM lets the script's trap remove the containers and the network.
    const timer = setTimeout(() => child.kill('SIGTERM'), TIMEOUT_MS - 30_000)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      done({ code, signal, output: Buffer.concat(chunks).toString('utf8') })
    })
  })
}

it(
  'ansible: three local hosts form a cluster, run a function across hosts, and a second run changes nothing',
  async () => {
    const started = Date.now()
    const result = await runScript(join(here, 'e2e.sh'))
    const seconds = Math.round((Date.now() - started) / 1000)
    // The whole output only on failure (playbook runs are long); the verdict lines always.
    const summary = result.output
      .split('\n')
      .filter((l) => l.startsWith('e2e'))
      .join('\n')
    process.stdout.write(`${summary}\n[ansible e2e] ${seconds} s\n`)
    expect(
      result.code,
      `e2e.sh exited ${result.code ?? result.signal} after ${seconds} s:\n${result.output}`,
    ).toBe(0)
  },
  TIMEOUT_MS,
)
