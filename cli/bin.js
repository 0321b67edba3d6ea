#!/usr/bin/env node
// The fnagent command. Checks the Node.js version before loading anything else, so an old Node
// prints one line instead of a stack trace from deep inside libp2p.
// Only the default exports of built-ins here: a named import missing from an old Node would fail
// before the check below could explain it.
import module from 'node:module'
import os from 'node:os'
import path from 'node:path'

const [major] = process.versions.node.split('.').map(Number)
if (major < 22 || !process.features?.typescript) {
  console.error(
    `fnagent needs Node.js >= 22 with TypeScript type stripping (22.18+, 23.6+ or 24); found ${process.version}. ` +
      "Install Node 24, or run it through npm (`npm run`/`npx`), which uses the project's node@24.",
  )
  process.exit(1)
}

// The sources are TypeScript: Node strips the types of every file it loads, and the stripper (a
// WebAssembly module) stays in memory afterwards (about 16 MiB of RSS in the daemon) and costs
// startup time on every CLI call. The compile cache keeps the stripped and compiled code, keyed by
// the source's hash, so a later run loads neither. NODE_COMPILE_CACHE (the Ansible unit sets it)
// wins over this default; NODE_DISABLE_COMPILE_CACHE=1 turns it off. An unwritable directory only
// means no cache.
if (!process.env.NODE_DISABLE_COMPILE_CACHE) {
  module.enableCompileCache(
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'fnagent'),
  )
}

// `fnagent start` runs with the daemon's Node flags and environment however it was launched
// (systemd unit, demo, tests, a shell). V8 reads heap flags and glibc its malloc settings only when
// the process starts, so it replaces itself (same pid, same stdio) with one that has them; a flag or
// variable already given is left alone. See cli/launch.ts.
const { missingDaemonSettings } = await import('./launch.ts')
const missing = missingDaemonSettings(process.argv.slice(2), process.execArgv, process.env)
if (missing && process.execve) {
  process.execve(
    process.execPath,
    [process.execPath, ...process.execArgv, ...missing.flags, ...process.argv.slice(1)],
    { ...process.env, ...missing.env },
  )
}
await import('./main.ts')
