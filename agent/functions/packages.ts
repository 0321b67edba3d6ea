import { z } from 'zod'
import { errors } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { HybridClock } from '../store/hlc.ts'
import {
  type FunctionRecord,
  NAME_PART,
  NAMESPACE_RE,
  type PackageRecord,
  packageId,
  type Store,
} from '../store/index.ts'
import { KeyedSerial } from '../store/serial.ts'
import { describeZodError } from './input.ts'

/** OpenWhisk's messages for packages (apache/openwhisk `http/Messages.scala`). */
export const PACKAGE_MESSAGES = {
  bindingDoesNotExist: 'Binding references a package that does not exist.',
  packageCannotBecomeBinding: 'Resource is a package and cannot be converted into a binding.',
  bindingCannotReferenceBinding: 'Cannot bind to another package binding.',
  notAllowedOnBinding: 'Operation not permitted on package binding.',
  circular: (name: string) => `Package binding '${name}' contains a circular reference.`,
  notEmpty: (n: number) => `Package not empty (contains ${n} ${n === 1 ? 'entity' : 'entities'}).`,
} as const

const PART_RE = new RegExp(`^${NAME_PART}$`)

export const packageInputSchema = z
  .object({
    publish: z.boolean().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    annotations: z.record(z.string(), z.unknown()).optional(),
    binding: z
      .object({ namespace: z.string().regex(NAMESPACE_RE), name: z.string().regex(PART_RE) })
      .optional(),
  })
  .strict()
export type PackageInput = z.infer<typeof packageInputSchema>

export interface PackageServiceComponents {
  logger: Logger
  store: Store
  clock: HybridClock
  nodeId: string
  /** After a local write (replication pushes it to every peer). */
  onWrite?: (record: PackageRecord) => void
}

/** What an action name resolves to: the function that runs and the package parameters beneath its own. */
export interface Resolved {
  fn: FunctionRecord
  /** Package (and binding) parameters, merged under the action's own. */
  defaults: Record<string, unknown>
}

/**
 * Packages and bindings, as OpenWhisk has them: a package holds actions (`pkg/action`) and default
 * parameters; a binding names a package (of its namespace, or a published one of another) and
 * adds parameters over it. A binding to a binding is refused, so chains, and cycles, cannot form.
 */
export class PackageService {
  readonly #c: PackageServiceComponents
  readonly #serial = new KeyedSerial()

  constructor(components: PackageServiceComponents) {
    this.#c = components
  }

  async get(namespace: string, name: string): Promise<PackageRecord> {
    const p = await this.#c.store.packages.get(namespace, name)
    if (!p) throw errors.notFound(`package '${name}' does not exist in namespace ${namespace}`)
    return p
  }

  list(namespace: string): Promise<PackageRecord[]> {
    return this.#c.store.packages.list(namespace)
  }

  /** The actions of a package (of its bound package, for a binding). */
  async actions(p: PackageRecord): Promise<FunctionRecord[]> {
    const { namespace, name } = p.binding ?? p
    return (await this.#c.store.functions.list(namespace)).filter((f) => f.name.startsWith(`${name}/`))
  }

  /** Creates or (with `overwrite`) updates a package or binding; returns the stored record. */
  put(namespace: string, name: string, body: unknown, overwrite: boolean): Promise<PackageRecord> {
    if (!PART_RE.test(name)) throw errors.invalidName(`'${name}' is not a package name`)
    const parsed = packageInputSchema.safeParse(body ?? {})
    if (!parsed.success) throw errors.invalidArgument(describeZodError(parsed.error, 'invalid package'))
    const input = parsed.data
    // `_` names the caller's namespace, as in a path.
    if (input.binding?.namespace === '_') input.binding.namespace = namespace
    return this.#serial.run(packageId({ namespace, name }), async () => {
      const head = await this.#c.store.packages.head(namespace, name)
      const prev = head && !head.deleted ? head : null
      if (prev && !overwrite) throw errors.conflict(`package '${name}' already exists`)
      if (input.binding) await this.#checkBinding(namespace, name, input.binding, prev)
      const record: PackageRecord = {
        namespace,
        name,
        version: (head?.version ?? 0) + 1,
        publish: input.publish ?? prev?.publish ?? false,
        parameters: input.parameters ?? prev?.parameters ?? {},
        annotations: input.annotations ?? prev?.annotations ?? {},
        updated: head ? this.#c.clock.update(head.updated) : this.#c.clock.now(),
        origin: this.#c.nodeId,
      }
      const binding = input.binding ?? prev?.binding
      if (binding) record.binding = binding
      await this.#c.store.packages.put(record)
      this.#c.logger.info({ pkg: packageId(record), version: record.version }, 'package written')
      this.#c.onWrite?.(record)
      return record
    })
  }

  async #checkBinding(
    namespace: string,
    name: string,
    to: { namespace: string; name: string },
    prev: PackageRecord | null,
  ): Promise<void> {
    if (prev && !prev.binding) throw errors.bindingInvalid(PACKAGE_MESSAGES.packageCannotBecomeBinding)
    if (to.namespace === namespace && to.name === name)
      throw errors.bindingInvalid(PACKAGE_MESSAGES.circular(name))
    const target = await this.#visible(namespace, to)
    if (!target) throw errors.bindingInvalid(PACKAGE_MESSAGES.bindingDoesNotExist)
    if (target.binding) throw errors.bindingInvalid(PACKAGE_MESSAGES.bindingCannotReferenceBinding)
  }

  /** A package `namespace` may see: its own, or another namespace's published one. */
  async #visible(namespace: string, to: { namespace: string; name: string }): Promise<PackageRecord | null> {
    const p = await this.#c.store.packages.get(to.namespace, to.name)
    return p && (p.namespace === namespace || p.publish) ? p : null
  }

  /** Deletes a package (refused while it holds actions) or a binding; returns the deleted record. */
  remove(namespace: string, name: string): Promise<PackageRecord> {
    return this.#serial.run(packageId({ namespace, name }), async () => {
      const p = await this.get(namespace, name)
      if (!p.binding) {
        const n = (await this.actions(p)).length
        if (n > 0) throw errors.packageNotEmpty(PACKAGE_MESSAGES.notEmpty(n))
      }
      const tombstone: PackageRecord = {
        ...p,
        version: p.version + 1,
        updated: this.#c.clock.update(p.updated),
        origin: this.#c.nodeId,
        deleted: true,
      }
      await this.#c.store.packages.put(tombstone)
      this.#c.logger.info({ pkg: packageId(p) }, 'package deleted')
      this.#c.onWrite?.(tombstone)
      return p
    })
  }

  /** Refuses an action put inside a binding; `mustExist`: also inside a missing package (OpenWhisk's REST API). */
  async checkActionName(namespace: string, name: string, mustExist: boolean): Promise<void> {
    const slash = name.indexOf('/')
    if (slash < 0) return
    const p = await this.#c.store.packages.get(namespace, name.slice(0, slash))
    if (p?.binding) throw errors.bindingInvalid(PACKAGE_MESSAGES.notAllowedOnBinding)
    if (!p && mustExist) throw errors.notFound(`package '${name.slice(0, slash)}' does not exist`)
  }

  /**
   * The function an action name of `namespace` runs, and the package parameters beneath its own:
   * `pkg/action` takes the package's; `binding/action` runs the bound package's action with the
   * bound package's parameters under the binding's.
   */
  async resolve(namespace: string, name: string, get: (name: string, ns: string) => Promise<FunctionRecord>) {
    const slash = name.indexOf('/')
    if (slash < 0) return { fn: await get(name, namespace), defaults: {} }
    const pkgName = name.slice(0, slash)
    const action = name.slice(slash + 1)
    const p = await this.#c.store.packages.get(namespace, pkgName)
    if (!p) return { fn: await get(name, namespace), defaults: {} }
    if (!p.binding) return { fn: await get(name, namespace), defaults: p.parameters }
    const target = await this.#visible(namespace, p.binding)
    if (!target) throw errors.notFound(`the package '${pkgName}' is bound to no longer exists`)
    // Two nodes may each have accepted one half of a chain before seeing the other's write.
    if (target.binding) throw errors.bindingInvalid(PACKAGE_MESSAGES.circular(pkgName))
    const fn = await get(`${target.name}/${action}`, target.namespace)
    return { fn, defaults: { ...target.parameters, ...p.parameters } }
  }
}
