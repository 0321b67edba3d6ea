/** The label value every function past the cap is counted under. */
export const OTHER = '_other'

/**
 * Bounds the per-function label values: the first `max` distinct `namespace/name` keep their own,
 * every later one shares `_other` (for the life of the process, so a series never changes meaning).
 */
export class FunctionLabels {
  readonly #max: number
  readonly #seen = new Set<string>()

  constructor(max: number) {
    this.#max = max
  }

  /** `[namespace, function]` label values of a function. */
  of(namespace: string, name: string): readonly [string, string] {
    const key = `${namespace}/${name}`
    if (this.#seen.has(key)) return [namespace, name]
    if (this.#seen.size >= this.#max) return [OTHER, OTHER]
    this.#seen.add(key)
    return [namespace, name]
  }
}
