import { z } from 'zod'
import { CHOOSE_DEFAULTS } from './choose.ts'

/** Placement options (config section `placement`): the candidate list's tunables (choose.ts) and the forwarding limit. */
export const placementOptionsSchema = z
  .object({
    /** Warm members tried first, picked best-of-d from the view. */
    warm: z.number().int().min(0).max(64).default(CHOOSE_DEFAULTS.warm),
    /** Ranked nodes past the ones the view shows warm (the spill frontier). */
    homes: z.number().int().min(0).max(64).default(CHOOSE_DEFAULTS.homes),
    /** Ranked nodes after the homes the load fallback picks from. */
    window: z.number().int().min(0).max(256).default(CHOOSE_DEFAULTS.window),
    /** d of the power-of-d choices. */
    d: z.number().int().min(1).max(16).default(CHOOSE_DEFAULTS.d),
    /** Longest candidate list (bounds the attempts; docs/performance.md measures 24 against 16). */
    maxCandidates: z.number().int().min(1).max(256).default(CHOOSE_DEFAULTS.maxCandidates),
    /** Largest forwarding message, bytes (code travels separately, by hash). */
    maxMessageBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .default(4 * 1024 * 1024),
  })
  .strict()

export type PlacementOptions = z.infer<typeof placementOptionsSchema>
export const PLACEMENT_DEFAULTS: PlacementOptions = placementOptionsSchema.parse({})
