import type { Command } from 'commander'
import { registerActivationCommands, registerInvokeCommand } from './activation.ts'
import { registerAuthCommands } from './auth.ts'
import { registerClusterCommands } from './cluster.ts'
import { registerRuleCommands, registerTriggerCommands } from './events.ts'
import { registerFnCommands } from './fn.ts'
import { registerIsolateCommand } from './isolate.ts'
import { registerLogsCommand } from './logs.ts'
import { registerNamespaceCommands } from './namespace.ts'
import { registerPackageCommands } from './package.ts'
import { registerRuntimeCommands } from './runtime.ts'
import { registerQueueCommand, registerStatusCommands } from './status.ts'
import { registerTopCommand } from './top.ts'

/** Every verb but `start` (cli/commands/start.ts), in the order `fnagent --help` lists them. */
export function registerCommands(program: Command): void {
  registerStatusCommands(program)
  registerFnCommands(program)
  registerPackageCommands(program)
  registerTriggerCommands(program)
  registerRuleCommands(program)
  registerInvokeCommand(program)
  registerActivationCommands(program)
  registerQueueCommand(program)
  registerLogsCommand(program)
  registerTopCommand(program)
  registerClusterCommands(program)
  registerRuntimeCommands(program)
  registerAuthCommands(program)
  registerNamespaceCommands(program)
  registerIsolateCommand(program)
}
