import { errors } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { HybridClock } from '../store/hlc.ts'
import {
  CONCURRENT_KINDS,
  DEFAULT_LIMITS,
  type FunctionRecord,
  fnPath,
  type SecretBox,
  type Store,
  sha256,
} from '../store/index.ts'
import { KeyedSerial } from '../store/serial.ts'
import { type FunctionInput, looksLikeZip, parseFunctionInput, resolveKind, validateName } from './input.ts'
import type { PackageService, Resolved } from './packages.ts'
import { checkSequence, SEQUENCE_MESSAGES } from './sequence.ts'

export interface FunctionServiceComponents {
  logger: Logger
  store: Store
  clock: HybridClock
  nodeId: string
  /**
   * Called after a local write (replication pushes it to peers); resolves with the number of
   * nodes holding it once `waitReplicas` are confirmed (or the push settles).
   */
  onWrite?: (
    record: FunctionRecord,
    code: Buffer | null,
    waitReplicas?: number,
  ) => Promise<{ copies: number }>
  /** Seals secret parameters and env (absent: a function with secrets is refused). */
  secrets?: SecretBox
  /** Packages: an action in a binding resolves to the bound package's, with package parameters. */
  packages?: Pick<PackageService, 'resolve' | 'checkActionName'>
}

export interface FunctionServiceInit {
  namespace: string
  maxCodeBytes: number
}

/**
 * Deploys, updates, reads and deletes functions in this node's store. Local writes of one function
 * run one at a time (read the head, build the next version, write it), and each is stamped after
 * the head it read; a write that still loses by last-writer-wins (a newer replicated write landed
 * meanwhile) is reported as WRITE_LOST, never as a success.
 */
export class FunctionService {
  readonly #c: FunctionServiceComponents
  readonly #init: FunctionServiceInit
  readonly #serial = new KeyedSerial()

  constructor(components: FunctionServiceComponents, init: FunctionServiceInit) {
    this.#c = components
    this.#init = init
  }

  get namespace(): string {
    return this.#init.namespace
  }

  /** A live function of `namespace` (this node's namespace when omitted). */
  async get(name: string, namespace = this.#init.namespace): Promise<FunctionRecord> {
    validateName(name)
    const fn = await this.#c.store.functions.get(namespace, name)
    if (!fn) throw errors.notFound(`function '${name}' does not exist; list functions with 'fnagent fn list'`)
    return fn
  }

  /**
   * What invoking `name` of `namespace` runs: the function, and the parameters of its package (or
   * binding) to merge beneath its own.
   */
  async resolve(name: string, namespace = this.#init.namespace): Promise<Resolved> {
    validateName(name)
    const packages = this.#c.packages
    if (!packages) return { fn: await this.get(name, namespace), defaults: {} }
    return packages.resolve(namespace, name, (n, ns) => this.get(n, ns))
  }

  /** Version `version` of the function `of` is (a live one: a tombstone is no version to run). */
  async version(of: Pick<FunctionRecord, 'namespace' | 'name'>, version: number): Promise<FunctionRecord> {
    const v = await this.#c.store.functions.getVersion(of.namespace, of.name, version)
    if (!v || v.deleted) {
      throw errors.versionNotFound(
        `function '${of.name}' has no version ${version}; list them with 'fnagent fn versions ${of.name}'`,
      )
    }
    return v
  }

  /** Every stored version of a live function, oldest first. */
  async versions(name: string, namespace = this.#init.namespace): Promise<FunctionRecord[]> {
    await this.get(name, namespace)
    return (await this.#c.store.functions.versions(namespace, name)).filter((v) => !v.deleted)
  }

  /**
   * Makes version `version` current again: a new version (head + 1) with its code, kind, parameters,
   * annotations, env and limits, replicated like any update; every version stays addressable.
   */
  async rollback(
    name: string,
    version: number,
    namespace = this.#init.namespace,
  ): Promise<{ record: FunctionRecord }> {
    validateName(name)
    const record = await this.#serial.run(fnPath(namespace, name), async () => {
      const head = await this.get(name, namespace)
      const target = await this.version(head, version)
      const next: FunctionRecord = {
        ...structuredClone(target),
        version: head.version + 1,
        created: head.created,
        updated: this.#stampAfter(head),
        origin: this.#c.nodeId,
      }
      if (!(await this.#c.store.functions.write(next))) throw this.#lost(name, next, 'rollback')
      this.#c.logger.info({ fn: name, version: next.version, from: version }, 'function rolled back')
      return next
    })
    this.#notify(record, null)
    return { record }
  }

  async list(namespace = this.#init.namespace): Promise<FunctionRecord[]> {
    return this.#c.store.functions.list(namespace)
  }

  /** Creates version 1, or the next version; fields not given keep the previous version's values. */
  async put(
    name: string,
    body: unknown,
    namespace = this.#init.namespace,
  ): Promise<{ record: FunctionRecord; created: boolean; copies?: number }> {
    validateName(name)
    const input = parseFunctionInput(body)
    await this.#c.packages?.checkActionName(namespace, name, false)
    const written = await this.#serial.run(fnPath(namespace, name), () => this.#put(namespace, name, input))
    const { record, code, prev } = written
    if (input.waitReplicas !== undefined && this.#c.onWrite) {
      const { copies } = await this.#c.onWrite(record, code, input.waitReplicas)
      return { record, created: !prev, copies }
    }
    this.#notify(record, code)
    return { record, created: !prev }
  }

  async #put(ns: string, name: string, input: FunctionInput) {
    const head = await this.#c.store.functions.head(ns, name)
    const prev = head && !head.deleted ? head : null
    if (input.mode === 'create' && prev) {
      throw errors.conflict(
        `function '${name}' already exists (version ${prev.version}); use 'fnagent fn update'`,
      )
    }
    if (input.mode === 'update' && !prev) {
      throw errors.notFound(`function '${name}' does not exist; create it with 'fnagent fn create'`)
    }
    const { record, code } = this.#build(ns, name, input, prev, head)
    if (record.components) {
      await checkSequence(name, record.components, (n) => this.#c.store.functions.get(ns, n))
    }
    if (!(await this.#c.store.functions.write(record, code ?? undefined))) {
      throw this.#lost(name, record, 'update')
    }
    this.#c.logger.info(
      { fn: name, version: record.version, kind: record.kind },
      prev ? 'function updated' : 'function created',
    )
    return { record, code, prev }
  }

  /** Deletes a function; returns the version it deleted and the tombstone that replaced it. */
  async remove(
    name: string,
    namespace = this.#init.namespace,
  ): Promise<{ removed: FunctionRecord; tombstone: FunctionRecord }> {
    validateName(name)
    return this.#serial.run(fnPath(namespace, name), async () => {
      const fn = await this.get(name, namespace)
      const tombstone: FunctionRecord = {
        ...fn,
        version: fn.version + 1,
        codeHash: undefined,
        codeSize: 0,
        updated: this.#stampAfter(fn),
        origin: this.#c.nodeId,
        deleted: true,
      }
      delete tombstone.codeHash
      if (!(await this.#c.store.functions.remove(tombstone))) throw this.#lost(name, tombstone, 'delete')
      this.#c.logger.info({ fn: name, version: tombstone.version }, 'function deleted')
      this.#notify(tombstone, null)
      return { removed: fn, tombstone }
    })
  }

  /** A timestamp after the head's: a write that read the head is ordered after it. */
  #stampAfter(head: FunctionRecord | null): string {
    return head ? this.#c.clock.update(head.updated) : this.#c.clock.now()
  }

  #lost(name: string, record: FunctionRecord, what: string) {
    return errors.writeLost(
      `the ${what} of '${name}' (version ${record.version}) lost to a newer write of the same function; read it again and retry`,
      { details: { name, version: record.version, updated: record.updated } },
    )
  }

  #notify(record: FunctionRecord, code: Buffer | null): void {
    this.#c.onWrite?.(record, code).catch((err: unknown) => {
      this.#c.logger.warn(
        { err, fn: record.name, version: record.version },
        'replicating the function failed; anti-entropy will repair it',
      )
    })
  }

  /** The sealed secrets of the next version: the given ones sealed, else the previous version's. */
  #secrets(
    namespace: string,
    name: string,
    input: FunctionInput,
    prev: FunctionRecord | null,
  ): FunctionRecord['secrets'] {
    if (!input.secretParameters && !input.secretEnv) return prev?.secrets
    const box = this.#c.secrets
    if (!box) throw errors.unavailable('this agent has no secrets key; it cannot store secret values')
    const path = fnPath(namespace, name)
    const out: NonNullable<FunctionRecord['secrets']> = {}
    const parameters = input.secretParameters ?? null
    const env = input.secretEnv ?? null
    if (parameters && Object.keys(parameters).length) out.parameters = box.sealAll(path, parameters)
    else if (!parameters && prev?.secrets?.parameters) out.parameters = prev.secrets.parameters
    if (env && Object.keys(env).length) out.env = box.sealAll(path, env)
    else if (!env && prev?.secrets?.env) out.env = prev.secrets.env
    return out.parameters || out.env ? out : undefined
  }

  #build(
    namespace: string,
    name: string,
    input: FunctionInput,
    prev: FunctionRecord | null,
    head: FunctionRecord | null,
  ): { record: FunctionRecord; code: Buffer | null } {
    const asked = input.kind ? resolveKind(input.kind) : null
    const kind = asked?.kind ?? prev?.kind
    if (!kind) throw errors.invalidKind(`a new function needs a kind: --kind nodejs:24, python:3 or blackbox`)
    if (kind === 'sequence') return this.#buildSequence(namespace, name, input, prev, head)
    if (input.components) throw errors.invalidArgument(`only a function of kind sequence has components`)
    let code: Buffer | null = null
    if (input.code !== undefined) {
      code = Buffer.from(input.code, 'base64')
      if (code.length > this.#init.maxCodeBytes) {
        throw errors.tooLarge(
          `the code of '${name}' is ${code.length} bytes, over the limit of ${this.#init.maxCodeBytes} bytes (store.maxCodeBytes)`,
        )
      }
    }
    const image = input.image ?? (kind === prev?.kind ? prev?.image : undefined)
    if (kind === 'blackbox' && !image)
      throw errors.invalidArgument(`a blackbox function needs an image: --image IMAGE`)
    const keepCode = code === null && prev && prev.kind === kind
    if (!code && !keepCode && kind !== 'blackbox') {
      throw errors.invalidArgument(
        `function '${name}' of kind ${kind} needs code: give a source file or a zip`,
      )
    }
    const now = this.#stampAfter(head)
    const record: FunctionRecord = {
      namespace,
      name,
      version: (head?.version ?? 0) + 1,
      kind,
      main: input.main ?? prev?.main ?? 'main',
      binary: code ? (input.binary ?? looksLikeZip(code)) : keepCode ? prev.binary : false,
      codeSize: code ? code.length : keepCode ? prev.codeSize : 0,
      parameters: input.parameters ?? prev?.parameters ?? {},
      annotations: input.annotations ?? prev?.annotations ?? {},
      env: input.env ?? prev?.env ?? {},
      limits: { ...DEFAULT_LIMITS, ...prev?.limits, ...input.limits },
      created: prev?.created ?? now,
      updated: now,
      origin: this.#c.nodeId,
    }
    if (image && kind === 'blackbox') record.image = image
    if (record.limits.concurrency > 1 && !CONCURRENT_KINDS.includes(kind)) {
      throw errors.invalidArgument(
        `concurrency ${record.limits.concurrency} is not supported by kind ${kind}: its containers run one activation at a time (only ${CONCURRENT_KINDS.join(', ')} runs several)`,
      )
    }
    const requestedKind = asked ? asked.requested : prev?.requestedKind
    if (requestedKind) record.requestedKind = requestedKind
    const secrets = this.#secrets(namespace, name, input, prev)
    if (secrets) {
      record.secrets = secrets
      // A key is secret or plain, never both.
      const plain = <T>(o: Record<string, T>, sealed: Record<string, string> | undefined) =>
        Object.fromEntries(Object.entries(o).filter(([k]) => !(k in (sealed ?? {}))))
      record.parameters = plain(record.parameters, secrets.parameters)
      record.env = plain(record.env, secrets.env)
    }
    const codeHash = code ? sha256(code) : keepCode ? prev.codeHash : undefined
    if (codeHash) record.codeHash = codeHash
    return { record, code }
  }

  /** A sequence: components instead of code; its components are checked by `#put` (checkSequence). */
  #buildSequence(
    namespace: string,
    name: string,
    input: FunctionInput,
    prev: FunctionRecord | null,
    head: FunctionRecord | null,
  ): { record: FunctionRecord; code: null } {
    if (input.code !== undefined || input.image !== undefined) {
      throw errors.invalidArgument(`sequence '${name}' runs its components: it takes no code and no image`)
    }
    const components = input.components ?? (prev?.kind === 'sequence' ? prev.components : undefined) ?? []
    if (components.length === 0) throw errors.invalidSequence(SEQUENCE_MESSAGES.noComponent)
    for (const c of components) validateName(c)
    const now = this.#stampAfter(head)
    const record: FunctionRecord = {
      namespace,
      name,
      version: (head?.version ?? 0) + 1,
      kind: 'sequence',
      main: 'main',
      binary: false,
      codeSize: 0,
      parameters: input.parameters ?? prev?.parameters ?? {},
      annotations: input.annotations ?? prev?.annotations ?? {},
      env: {},
      limits: { ...DEFAULT_LIMITS, ...prev?.limits, ...input.limits },
      created: prev?.created ?? now,
      updated: now,
      origin: this.#c.nodeId,
      components,
    }
    return { record, code: null }
  }
}
