#!/usr/bin/env node
// The fnagent command. Checks the Node.js version before loading anything else, so an old Node
// prints one line instead of a stack trace from deep inside libp2p.
const [major] = process.versions.node.split('.').map(Number)
if (major < 22 || !process.features?.typescript) {
  console.error(
    `fnagent needs Node.js >= 22 with TypeScript type stripping (22.18+, 23.6+ or 24); found ${process.version}. ` +
      "Install Node 24, or run it through npm (`npm run`/`npx`), which uses the project's node@24.",
  )
  process.exit(1)
}
await import('./main.ts')
