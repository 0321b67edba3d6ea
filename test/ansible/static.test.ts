// Static checks of the Ansible rollout (ansible/): lint, syntax, rendered templates, and the
// systemd hardening score of the rendered unit. Needs Debian's ansible, ansible-lint, yamllint
// and systemd (systemd-analyze) packages; everything runs offline.
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '../..')
const ansibleDir = join(repo, 'ansible')
const renderDir = join(here, 'render')

/** Highest accepted `systemd-analyze security` exposure of the unit (the unit reaches 1.4). */
const MAX_EXPOSURE = 2.0
const PLAYBOOKS = ['site.yml', 'provision.yml', 'configure.yml', 'upgrade.yml']
const TIMEOUT_MS = 180_000

interface Run {
  code: number
  output: string
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      cmd,
      args,
      {
        cwd,
        env: { ...process.env, ANSIBLE_NOCOLOR: '1', NO_COLOR: '1', ANSIBLE_FORCE_COLOR: '0', ...env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: TIMEOUT_MS,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
        done({
          code,
          output: `$ ${cmd} ${args.join(' ')}\n${stdout}${stderr}${error && code === 1 && !stdout && !stderr ? String(error) : ''}`,
        })
      },
    )
  })
}

/** Exit 0 or fail with the tool's whole output. */
function expectSuccess(result: Run): void {
  expect(result.code, result.output).toBe(0)
}

describe('ansible rollout: static checks', () => {
  let out: string

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'fnagent-ansible-'))
  })
  afterAll(() => {
    rmSync(out, { recursive: true, force: true })
  })

  it(
    'yamllint -s passes',
    async () => {
      expectSuccess(await run('yamllint', ['-s', '-c', '.yamllint', '.'], ansibleDir))
    },
    TIMEOUT_MS,
  )

  it(
    'yamllint -s passes on the test playbooks and inventories',
    async () => {
      expectSuccess(await run('yamllint', ['-s', '-c', join(ansibleDir, '.yamllint'), '.'], here))
    },
    TIMEOUT_MS,
  )

  it(
    'ansible-lint passes on the test playbooks',
    async () => {
      expectSuccess(
        await run(
          'ansible-lint',
          [
            '--offline',
            '-p',
            '--nocolor',
            '-c',
            join(ansibleDir, '.ansible-lint'),
            'start-agents.yml',
            'render/render.yml',
          ],
          here,
        ),
      )
    },
    TIMEOUT_MS,
  )

  it(
    'ansible-lint passes with the production profile, offline',
    async () => {
      expectSuccess(await run('ansible-lint', ['--offline', '-p', '--nocolor'], ansibleDir))
    },
    TIMEOUT_MS,
  )

  for (const playbook of PLAYBOOKS) {
    it(
      `ansible-playbook --syntax-check ${playbook}`,
      async () => {
        expectSuccess(
          await run(
            'ansible-playbook',
            ['-i', 'inventories/local/hosts.yml', '--syntax-check', playbook],
            ansibleDir,
          ),
        )
      },
      TIMEOUT_MS,
    )
  }

  describe('rendered templates', () => {
    let rendered: Run

    beforeAll(async () => {
      rendered = await run(
        'ansible-playbook',
        [
          '-i',
          join(renderDir, 'inventory.yml'),
          join(renderDir, 'render.yml'),
          '-e',
          `fnagent_render_dir=${out}`,
        ],
        repo,
        { ANSIBLE_CONFIG: join(ansibleDir, 'ansible.cfg') },
      )
    }, TIMEOUT_MS)

    it("the role's templates render", () => {
      expectSuccess(rendered)
    })

    it('config.json carries the other group members as bootstrap peers', () => {
      expectSuccess(rendered)
      const config = JSON.parse(readFileSync(join(out, 'node1', 'config.json'), 'utf8'))
      expect(config.cluster.bootstrapPeers).toEqual(['192.168.0.6:7700', '10.0.0.7:7700'])
      expect(config.cluster.announce).toEqual(['/ip4/10.0.0.5/tcp/7700'])
      expect(config.cluster.keyFile).toBe('/etc/fnagent/cluster.key')
      expect(config.localApi.socketGroup).toBe('fnagent')
      expect(config.drainMs).toBe(10000)
      expect(config.invoker.memoryShare).toBe(0.5)
      const node2 = JSON.parse(readFileSync(join(out, 'node2', 'config.json'), 'utf8'))
      expect(node2.cluster.announce).toEqual(['/ip4/192.168.0.6/tcp/7700'])
      expect(node2.cluster.bootstrapPeers).toEqual(['10.0.0.5:7700', '10.0.0.7:7700'])
    })

    it('the unit keeps the hardening the agent can live with', () => {
      expectSuccess(rendered)
      const unit = readFileSync(join(out, 'node1', 'fnagent.service'), 'utf8')
      for (const line of [
        'Type=simple',
        'User=fnagent',
        'SupplementaryGroups=docker',
        'NoNewPrivileges=yes',
        'ProtectSystem=strict',
        'StateDirectory=fnagent',
        'ConfigurationDirectory=fnagent',
        'RuntimeDirectory=fnagent',
        'CapabilityBoundingSet=',
        'PrivateTmp=yes',
        'PrivateDevices=yes',
        'RestrictNamespaces=yes',
      ]) {
        expect(unit.split('\n'), `${line} in\n${unit}`).toContain(line)
      }
      // V8 needs writable+executable pages.
      expect(unit).not.toMatch(/^MemoryDenyWriteExecute=/m)
      expect(unit).toMatch(
        /^ExecStart=\S+ \/opt\/fnagent\/current\/cli\/bin\.js start --data-dir \/var\/lib\/fnagent --config \/etc\/fnagent\/config\.json$/m,
      )
    })

    it(
      `systemd-analyze security --offline rates the unit at exposure <= ${MAX_EXPOSURE}`,
      async () => {
        expectSuccess(rendered)
        const result = await run(
          'systemd-analyze',
          [
            'security',
            '--offline=true',
            `--threshold=${Math.round(MAX_EXPOSURE * 10)}`,
            '--no-pager',
            join(out, 'node1', 'fnagent.service'),
          ],
          out,
        )
        expectSuccess(result)
        const match = /Overall exposure level for fnagent\.service: ([0-9.]+)/.exec(result.output)
        expect(match, result.output).not.toBeNull()
        expect(Number(match?.[1]), result.output).toBeLessThanOrEqual(MAX_EXPOSURE)
      },
      TIMEOUT_MS,
    )
  })
})
