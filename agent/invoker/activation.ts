import type { Logger } from '../log.ts'
import type { FunctionRecord } from '../store/types.ts'
import type { FnContainer } from './container.ts'
import { logLimitBytes } from './limits.ts'
import type { InvokerOptions } from './options.ts'
import { fromInit, fromRun, messages, type Response, response } from './result.ts'

export interface ActivationInput {
  fn: FunctionRecord
  code: Buffer | null
  /** The parameters, already serialized (the invoker checked their size). */
  paramsJson: string
  activationId: string
  transactionId: string
  /** Passed to the action as `api_key`. */
  apiKey?: string
  /** Passed to the action as `api_host` (`__OW_API_HOST`). */
  apiHost?: string
  needsInit: boolean
  /** Called once `/init` succeeded (the container may take further activations of the function now). */
  onInit?: () => void
  /** Caller cancellation and invoker shutdown. */
  signal: AbortSignal
}

export interface ActivationOutcome {
  response: Response
  logs: string[]
  start: number
  end: number
  initTime?: number
  timedOut: boolean
  /** The container may serve the next activation of the same version. */
  reusable: boolean
}

class Timeout extends Error {}

/** `/init` (when needed), `/run`, log collection, and the outcome: never throws for function failures. */
export async function activate(
  c: FnContainer,
  input: ActivationInput,
  deps: { options: InvokerOptions; logger: Logger },
): Promise<ActivationOutcome> {
  const { fn } = input
  const { options } = deps
  // Several activations at once in the container: their logs are told apart by id (logs.ts).
  const logId = fn.limits.concurrency > 1 ? input.activationId : undefined
  c.logs.begin(logLimitBytes(fn), logId)
  const start = Date.now()
  let initTime: number | undefined
  let out: { response: Response; reusable: boolean; timedOut: boolean }
  let phase: 'init' | 'run' = input.needsInit ? 'init' : 'run'
  try {
    if (input.needsInit) {
      const t = performance.now()
      const reply = await bounded(fn.limits.timeout, input.signal, (signal) =>
        c.init(initBody(input), signal),
      )
      initTime = Math.round(performance.now() - t)
      const failed = fromInit(reply)
      if (failed) {
        out = { response: failed, reusable: false, timedOut: false }
        return await finish(c, out, { start, initTime, blackbox: fn.kind === 'blackbox', logId }, deps)
      }
      c.key = `${fn.namespace}/${fn.name}@${fn.version}`
      input.onInit?.()
      phase = 'run'
    }
    const reply = await bounded(fn.limits.timeout, input.signal, (signal) => c.run(runBody(input), signal))
    const res = fromRun(reply, options.maxPayloadBytes)
    // As OpenWhisk: a developer error (the runtime refused or the action threw) retires the container.
    out = { response: res, reusable: !reply.tooLarge && res.statusCode !== 2, timedOut: false }
  } catch (err) {
    out = await failure(c, fn, phase, err, input.signal, deps.logger, logId !== undefined)
  }
  return finish(c, out, { start, initTime, blackbox: fn.kind === 'blackbox', logId }, deps)
}

async function finish(
  c: FnContainer,
  out: { response: Response; reusable: boolean; timedOut: boolean; abandoned?: boolean },
  at: { start: number; initTime?: number; blackbox: boolean; logId: string | undefined },
  deps: { options: InvokerOptions },
): Promise<ActivationOutcome> {
  const end = Date.now()
  const { logs, complete } = await c.logs.finish(
    {
      // An abandoned activation (timed out or cancelled while others run in its container) still
      // runs and will print no sentinels soon: its record gets what it printed so far.
      waitMs: out.abandoned ? 0 : deps.options.logSentinelWaitMs,
      quietMs: at.blackbox ? deps.options.blackboxLogQuietMs : 0,
    },
    at.logId,
  )
  // Without both sentinels a late one could end the next activation's logs early: do not reuse.
  const reusable = out.reusable && (complete || at.blackbox) && !c.exited.aborted
  return {
    response: out.response,
    timedOut: out.timedOut,
    reusable,
    logs,
    start: at.start,
    end,
    initTime: at.initTime,
  }
}

async function failure(
  c: FnContainer,
  fn: FunctionRecord,
  phase: 'init' | 'run',
  err: unknown,
  signal: AbortSignal,
  logger: Logger,
  shared: boolean,
): Promise<{ response: Response; reusable: boolean; timedOut: boolean; abandoned?: boolean }> {
  // Kill at once, so the output streams close and the log wait ends quickly; unless the container
  // runs other activations (concurrency above 1): it then takes no new ones and is removed once
  // they have ended, each within its own time limit (the invoker retires it).
  const kill = async () => {
    if (shared) return
    await c.remove().catch((e: unknown) => logger.warn({ err: e, container: c.name }, 'remove failed'))
  }
  if (err instanceof Timeout) {
    await kill()
    return {
      response: response('action developer error', {
        error: messages.timeout(fn.limits.timeout, phase === 'init'),
      }),
      reusable: false,
      timedOut: true,
      abandoned: shared,
    }
  }
  if (signal.aborted) {
    await kill()
    return {
      response: response('whisk internal error', { error: 'The activation was cancelled.' }),
      reusable: false,
      timedOut: false,
      abandoned: shared,
    }
  }
  const ended = await c.exitState().catch(() => 'running' as const)
  if (ended === 'oom' || ended === 'exited') {
    // The action's own fault: it outgrew its memory, or its process exited.
    const error =
      ended === 'oom' ? messages.memory : phase === 'init' ? messages.abnormalInit : messages.abnormalRun
    return { response: response('action developer error', { error }), reusable: false, timedOut: false }
  }
  logger.warn(
    { err, container: c.name, fn: `${fn.namespace}/${fn.name}` },
    'container failed during an activation',
  )
  return {
    response: response('whisk internal error', { error: messages.died }),
    reusable: false,
    timedOut: false,
  }
}

/** Runs `work` with a signal aborted by `signal` or after `ms`; a timeout rejects with `Timeout`. */
async function bounded<T>(ms: number, signal: AbortSignal, work: (s: AbortSignal) => Promise<T>): Promise<T> {
  const ctrl = new AbortController()
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    ctrl.abort(new Timeout())
  }, ms)
  const onAbort = () => ctrl.abort(signal.reason)
  // Aborted already (a stop while this activation waited for its container's unpause): no event comes.
  if (signal.aborted) onAbort()
  else signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await work(ctrl.signal)
  } catch (err) {
    if (timedOut) throw new Timeout()
    throw err
  } finally {
    clearTimeout(timer)
    signal.removeEventListener('abort', onAbort)
  }
}

function initBody(input: ActivationInput): string {
  const { fn, code } = input
  return JSON.stringify({
    value: {
      name: fn.name,
      main: fn.main,
      code: code === null ? '' : fn.binary ? code.toString('base64') : code.toString('utf8'),
      binary: fn.binary,
      // The nodejs runtime runs activations concurrently only when told so (as OpenWhisk's does).
      env: fn.limits.concurrency > 1 ? { ...fn.env, __OW_ALLOW_CONCURRENT: 'true' } : fn.env,
    },
  })
}

function runBody(input: ActivationInput): string {
  const { fn } = input
  const rest = JSON.stringify({
    ...(input.apiKey ? { api_key: input.apiKey } : {}),
    ...(input.apiHost ? { api_host: input.apiHost } : {}),
    namespace: fn.namespace,
    action_name: `/${fn.namespace}/${fn.name}`,
    action_version: `0.0.${fn.version}`,
    activation_id: input.activationId,
    transaction_id: input.transactionId,
    // As OpenWhisk: the run's start plus the action's time limit.
    deadline: String(Date.now() + fn.limits.timeout),
  })
  return `{"value":${input.paramsJson},${rest.slice(1)}`
}
