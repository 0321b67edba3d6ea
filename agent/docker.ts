import { createRequire, Module } from 'node:module'
import type Dockerode from 'dockerode'

const require = createRequire(import.meta.url)

/**
 * The Docker client the invoker gets. dockerode loads, with itself, the modules of two features
 * the agent never uses: BuildKit sessions (`@grpc/grpc-js`, `@grpc/proto-loader`, protobufjs) and
 * Docker over SSH (`ssh2`): about 5 MiB of heap and RSS held for the daemon's whole life. Before
 * dockerode is first loaded, the two files that pull them in (each exports one function) are stood
 * in for by a function that loads the real file on its first call, so both features still work
 * when asked for (DOCKER_HOST=ssh://…, a BuildKit build).
 */
export function createDocker(options?: Dockerode.DockerOptions): Dockerode {
  deferDockerodeExtras()
  const Docker = require('dockerode') as typeof Dockerode
  return new Docker(options)
}

function deferDockerodeExtras(): void {
  let main: string
  try {
    main = require.resolve('dockerode')
  } catch {
    return
  }
  if (require.cache[main]) return // already loaded (a test, the CLI): nothing to save any more
  const fromDockerode = createRequire(main)
  for (const id of ['dockerode/lib/session.js', 'docker-modem/lib/ssh.js']) {
    try {
      deferModule(fromDockerode.resolve(id))
    } catch {
      // another dockerode layout: load it whole
    }
  }
}

/** Puts a stand-in for the CommonJS module `file` (which exports a function) in the require cache. */
function deferModule(file: string): void {
  if (require.cache[file]) return
  const standIn = new Module(file)
  standIn.filename = file
  standIn.loaded = true
  let real: ((...args: unknown[]) => unknown) | undefined
  standIn.exports = function deferred(this: unknown, ...args: unknown[]) {
    if (!real) {
      delete require.cache[file]
      real = require(file) as (...args: unknown[]) => unknown
    }
    return real.apply(this, args)
  }
  require.cache[file] = standIn
}
