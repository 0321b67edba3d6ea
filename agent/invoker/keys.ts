import type { FunctionRecord } from '../store/types.ts'

/** Warm pool key: one function version; reuse never mixes versions. */
export function warmKey(fn: Pick<FunctionRecord, 'namespace' | 'name' | 'version'>): string {
  return `${fn.namespace}/${fn.name}@${fn.version}`
}

/** prewarm pool key: runtime kind and memory size. */
export function prewarmKey(kind: string, memoryMiB: number): string {
  return `${kind}@${memoryMiB}`
}
