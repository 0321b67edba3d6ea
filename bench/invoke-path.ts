/**
 * The invoke path (issue 23), in one run: warm latency through the REST and local APIs against the
 * direct-to-container floor, a 100 ms I/O-bound function at concurrency 1 and 50 in one container,
 * placement decisions per CPU second at 10/100/1,000 members, and the CLI's wall time against a bare
 * Node start and curl.
 *
 *   npm run bench -- invoke-path
 */
import { benchApi } from './api.ts'
import { benchCli } from './cli.ts'
import { benchConcurrency } from './concurrency.ts'
import { benchDecisions } from './decisions.ts'

export async function benchInvokePath(): Promise<Record<string, unknown>> {
  return {
    warmPath: await benchApi(),
    concurrency: await benchConcurrency(),
    placementDecisions: {
      what: 'per CPU second of the deciding thread; goal >= 20,000 at 1,000',
      sizes: benchDecisions(),
    },
    cli: await benchCli(),
  }
}
