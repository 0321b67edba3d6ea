import { randomBytes } from 'node:crypto'
import type http from 'node:http'
import { connect } from 'node:net'
import type { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type Dockerode from 'dockerode'
import type { Logger } from '../log.ts'
import { demuxAttach } from './demux.ts'
import { containerAgent, isConnectError, isStaleSocket, postJson, type Reply } from './http.ts'
import { type ContainerSpec, createOptions } from './limits.ts'
import { LogCapture } from './logs.ts'
import type { InvokerOptions } from './options.ts'
import { deadlineSignal, withTimeout } from './timeout.ts'

export interface ContainerComponents {
  docker: Dockerode
  logger: Logger
  nodeId: string
  options: InvokerOptions
}

/** A function container as the pool sees it. */
export type ContainerState = 'starting' | 'busy' | 'idle' | 'paused' | 'gone'

/**
 * One running function container: created with all limits, its output attached from the first byte,
 * reached over HTTP at its bridge IP on port 8080 through a keep-alive socket.
 */
export class FnContainer {
  readonly id: string
  readonly name: string
  readonly spec: ContainerSpec
  readonly ip: string
  readonly logs: LogCapture
  /** Aborted when the container's output streams close, i.e. the container exited or was killed. */
  readonly exited: AbortSignal
  state: ContainerState = 'starting'
  /** `namespace/name@version` once `/init` succeeded (or for blackbox without code, once chosen). */
  key: string | null = null
  lastUsed = performance.now()
  /** Activations it may run at once: its function's `limits.concurrency`, set by `serve`. */
  concurrency = 1
  /** Activations running in it now. */
  inflight = 0
  /** Takes no new activation; removed once the ones it runs have ended (one of them failed it). */
  retiring = false
  /** Paused, or a pause in flight: `resume()` waits for it then unpauses. */
  pausing: Promise<boolean> | null = null
  #resuming: Promise<void> | null = null
  idleTimers: NodeJS.Timeout[] = []
  readonly #deps: ContainerComponents
  readonly #container: Dockerode.Container
  readonly #agent: http.Agent
  #removing: Promise<void> | null = null

  private constructor(
    deps: ContainerComponents,
    spec: ContainerSpec,
    container: Dockerode.Container,
    name: string,
    ip: string,
    logs: LogCapture,
    exited: AbortSignal,
  ) {
    this.#deps = deps
    this.spec = spec
    this.#container = container
    this.id = container.id
    this.name = name
    this.ip = ip
    this.logs = logs
    this.exited = exited
    this.#agent = containerAgent()
  }

  /** Creates, attaches and starts a container; on any failure nothing is left behind. */
  static async create(
    deps: ContainerComponents,
    spec: ContainerSpec,
    signal?: AbortSignal,
  ): Promise<FnContainer> {
    const { docker, options } = deps
    const name = `fnagent-${deps.nodeId.slice(-12).replace(/[^A-Za-z0-9_.-]/g, '_')}-${randomBytes(5).toString('hex')}`
    const timeout = () => deadlineSignal(options.dockerTimeoutMs, signal)
    // Not aborted by `signal`: an aborted create may still happen in the engine, unseen by us.
    const container = await docker.createContainer({
      ...createOptions(spec, deps.nodeId, options),
      name,
      abortSignal: AbortSignal.timeout(options.dockerTimeoutMs),
    })
    const logs = new LogCapture()
    const exit = new AbortController()
    try {
      signal?.throwIfAborted()
      const stream = await withTimeout(
        container.attach({ stream: true, stdout: true, stderr: true, logs: false }),
        options.dockerTimeoutMs,
        'attach',
      )
      demuxAttach(
        stream as NodeJS.ReadableStream as Readable,
        (which, chunk) => logs.feed(which, chunk),
        (err) =>
          deps.logger.error(
            { err, container: name },
            'reading the container output failed; its logs are lost',
          ),
      )
      const closed = () => {
        logs.end()
        exit.abort(new Error('container exited'))
      }
      stream.on('end', closed)
      stream.on('close', closed)
      stream.on('error', closed)
      await container.start({ abortSignal: timeout() })
      const info = await container.inspect({ abortSignal: timeout() })
      const ip = info.NetworkSettings.Networks[options.network]?.IPAddress
      if (!ip) throw new Error(`container ${name} has no address on network ${options.network}`)
      return new FnContainer(deps, spec, container, name, ip, logs, exit.signal)
    } catch (err) {
      await container
        .remove({ force: true, abortSignal: AbortSignal.timeout(options.dockerTimeoutMs) })
        .catch((e: unknown) =>
          deps.logger.warn({ err: e, container: name }, 'could not remove failed container'),
        )
      throw err
    }
  }

  /**
   * POST /init, retrying while the server does not accept connections yet (slow-starting images),
   * until `signal` aborts (the caller bounds it by the activation's timeout).
   */
  async init(body: string, signal: AbortSignal): Promise<Reply> {
    for (;;) {
      try {
        return await postJson(this.#agent, this.ip, '/init', body, {
          signal: AbortSignal.any([signal, this.exited]),
          maxBytes: this.#deps.options.maxPayloadBytes,
        })
      } catch (err) {
        if (!isConnectError(err) || signal.aborted || this.exited.aborted) throw err
        await sleep(10, undefined, { signal })
      }
    }
  }

  /** Resolves once the action server accepts connections (prewarmed containers are pooled only when ready). */
  async waitReady(signal: AbortSignal): Promise<void> {
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect({ host: this.ip, port: 8080, signal: AbortSignal.any([signal, this.exited]) })
        s.once('connect', () => {
          s.destroy()
          resolve(true)
        })
        s.once('error', () => resolve(false))
      })
      if (ok) return
      if (signal.aborted) throw signal.reason
      if (this.exited.aborted) throw new Error(`container ${this.name} exited before its server listened`)
      await sleep(10, undefined, { signal })
    }
  }

  /** POST /run; rejects on abort, on connection loss and when the container exits. */
  async run(body: string, signal: AbortSignal): Promise<Reply> {
    const opts = {
      signal: AbortSignal.any([signal, this.exited]),
      maxBytes: this.#deps.options.maxPayloadBytes,
    }
    try {
      return await postJson(this.#agent, this.ip, '/run', body, opts)
    } catch (err) {
      if (!isStaleSocket(err) || opts.signal.aborted) throw err
      return postJson(this.#agent, this.ip, '/run', body, opts)
    }
  }

  /** Its function's `/init` succeeded: it may run up to `concurrency` activations at once. */
  serve(concurrency: number): void {
    this.concurrency = concurrency
    this.#agent.maxSockets = concurrency
  }

  /**
   * Waits for a pause in flight and unpauses, once for all the activations that took the
   * container while it was paused (a second unpause would fail).
   */
  resume(): Promise<void> {
    if (!this.pausing) return Promise.resolve()
    this.#resuming ??= (async () => {
      try {
        if (await this.pausing) await this.unpause()
      } finally {
        this.pausing = null
        this.#resuming = null
      }
    })()
    return this.#resuming
  }

  pause(): Promise<void> {
    return this.#container.pause({ abortSignal: AbortSignal.timeout(this.#deps.options.dockerTimeoutMs) })
  }

  unpause(): Promise<void> {
    return this.#container.unpause({ abortSignal: AbortSignal.timeout(this.#deps.options.dockerTimeoutMs) })
  }

  /**
   * How the container ended: `oom` when the kernel killed it for exceeding its memory limit,
   * `exited` when its own process exited (the action called `exit`), `killed` when it was killed
   * through the engine (`docker kill`, a removal), `running` when it still runs.
   */
  async exitState(): Promise<'oom' | 'exited' | 'killed' | 'running'> {
    const until = performance.now() + 2_000
    for (;;) {
      const info = await this.#container.inspect({
        abortSignal: AbortSignal.timeout(this.#deps.options.dockerTimeoutMs),
      })
      if (info.State.OOMKilled) return 'oom'
      if (!info.State.Running) {
        // 128 + signal number: ended by a signal rather than exiting on its own.
        if (info.State.ExitCode <= 128) return 'exited'
        if (await this.#killedByEngine(info.Created)) return 'killed'
        // Some engines (cgroup v1 on recent kernels, as on the test machine) never set OOMKilled:
        // a SIGKILL that did not come through the engine came from the kernel, i.e. the memory
        // limit; another signal (a crash) is the action's own.
        return info.State.ExitCode === 137 ? 'oom' : 'exited'
      }
      if (performance.now() > until) return 'running'
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  /** Whether the engine logged a `kill` of this container since it was created. */
  async #killedByEngine(created: string): Promise<boolean> {
    const stream = (await this.#deps.docker.getEvents({
      since: Math.floor(Date.parse(created) / 1000) - 1,
      until: Math.ceil(Date.now() / 1000),
      filters: { container: [this.#container.id], event: ['kill'] },
      abortSignal: AbortSignal.timeout(this.#deps.options.dockerTimeoutMs),
    } as never)) as unknown as NodeJS.ReadableStream
    let text = ''
    for await (const chunk of stream) text += chunk.toString()
    return text.trim().length > 0
  }

  /** Kills and removes the container (idempotent). */
  remove(): Promise<void> {
    if (!this.#removing) {
      this.state = 'gone'
      for (const t of this.idleTimers) clearTimeout(t)
      this.idleTimers = []
      this.#agent.destroy()
      this.#removing = this.#container
        .remove({ force: true, abortSignal: AbortSignal.timeout(this.#deps.options.dockerTimeoutMs) })
        .catch((err: unknown) => {
          if ((err as { statusCode?: number }).statusCode === 404) return
          throw err
        })
    }
    return this.#removing
  }
}
