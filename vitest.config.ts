import { configDefaults, defineConfig } from 'vitest/config'

// The Jepsen-style test (3 agents, kills, partitions, clock skew) runs after every other file,
// alone: beside the other multi-process files on 2 cores its agents starve for CPU, and it
// measures convergence. It still fails on any anomaly.
const ALONE = ['test/integration/jepsen.test.ts']

export default defineConfig({
  test: {
    globalSetup: ['test/setup/runtimes.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', 'hanging-process', 'json'],
    outputFile: { json: '.ci/test-results.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...ALONE],
          sequence: { groupOrder: 0 },
        },
      },
      { extends: true, test: { name: 'alone', include: ALONE, sequence: { groupOrder: 1 } } },
    ],
  },
})
