/** The label value every function past the cap is counted under. */
export const OTHER = '_other'

/**
 * Something kept per function, for at most `max` functions: the first `max` distinct
 * `namespace/name` get their own (made by `make`), every later one shares the one made for
 * `_other` (for the life of the process, so a series never changes meaning). A lookup is two map
 * reads, no string built: it sits on the invocation's path.
 */
export class PerFunction<T> {
  readonly #max: number
  readonly #make: (namespace: string, name: string) => T
  readonly #byNamespace = new Map<string, Map<string, T>>()
  #size = 0
  #other: T | undefined

  constructor(max: number, make: (namespace: string, name: string) => T) {
    this.#max = max
    this.#make = make
  }

  of(namespace: string, name: string): T {
    let names = this.#byNamespace.get(namespace)
    const hit = names?.get(name)
    if (hit !== undefined) return hit
    if (this.#size >= this.#max) {
      this.#other ??= this.#make(OTHER, OTHER)
      return this.#other
    }
    if (!names) {
      names = new Map()
      this.#byNamespace.set(namespace, names)
    }
    const made = this.#make(namespace, name)
    names.set(name, made)
    this.#size++
    return made
  }
}

/** The `[namespace, function]` label values of a function, under the cap of PerFunction. */
export class FunctionLabels extends PerFunction<readonly [string, string]> {
  constructor(max: number) {
    super(max, (namespace, name) => [namespace, name] as const)
  }
}
