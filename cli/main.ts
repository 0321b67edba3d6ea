// The `fnagent` process: runs the program on its arguments (cli/program.ts builds it).
import { main } from './program.ts'

// `fnagent … | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw err
})
process.exitCode = await main(process.argv)
