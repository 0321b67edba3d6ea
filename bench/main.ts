/**
 * `npm run bench [-- SECTION…]`: every timing goal of the project, measured in one run on this
 * machine. Sections: invoker, local-api, logs, forwarding, placement, cluster, idle, api, replication,
 * invoke-path, concurrency, composition, queue, metrics, alarms (default: all). Options for a section
 * follow as `--name=value` (`npm run bench -- cluster --sizes=10,30 --idle-s=60`). `node bench/idle.ts 10`
 * runs the idle section for 10 minutes.
 * The figures go into docs/performance.md with the command that made them.
 */
const SECTIONS: Record<string, () => Promise<unknown>> = {
  invoker: async () => (await import('./invoker.ts')).benchInvoker(),
  'local-api': async () => (await import('./local-api.ts')).benchLocalApi(),
  logs: async () => (await import('./logs.ts')).benchLogs(),
  forwarding: async () => (await import('./forwarding.ts')).benchForwarding(),
  placement: async () => {
    const m = await import('./placement.ts')
    return m.formatPlacement(await m.benchPlacement())
  },
  cluster: async () => (await import('./cluster.ts')).benchCluster({}),
  idle: async () => (await import('./idle.ts')).benchIdle({}),
  api: async () => (await import('./api.ts')).benchApi(),
  replication: async () => (await import('./replication.ts')).benchReplication(),
  queue: async () => (await import('./queue.ts')).benchQueue(),
  metrics: async () => (await import('./metrics.ts')).benchMetrics(),
  concurrency: async () => (await import('./concurrency.ts')).benchConcurrency(),
  'invoke-path': async () => (await import('./invoke-path.ts')).benchInvokePath(),
  composition: async () => (await import('./composition.ts')).benchComposition(),
  alarms: async () => (await import('./alarms.ts')).benchAlarms(),
}

// `--name=value` options belong to the sections (e.g. cluster's --sizes=10,30 --idle-s=60).
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const unknown = wanted.filter((w) => !SECTIONS[w])
if (unknown.length) {
  console.error(`unknown bench section(s): ${unknown.join(', ')}; known: ${Object.keys(SECTIONS).join(', ')}`)
  process.exit(2)
}
for (const name of wanted.length ? wanted : Object.keys(SECTIONS)) {
  const t0 = performance.now()
  console.log(`\n## ${name}`)
  const out = await SECTIONS[name]!()
  console.log(typeof out === 'string' ? out : JSON.stringify(out, null, 2))
  console.log(`(${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`)
}
process.exit(0)
