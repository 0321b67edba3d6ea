import { z } from 'zod'

/** The web dashboard on the OpenWhisk API listener (docs/observability.md). */
export const dashboardOptionsSchema = z
  .object({
    /** Serve `/dashboard` (behind an API key) on the OpenWhisk API listener. */
    enabled: z.boolean().default(true),
    /** Recent activations shown (read from the whole cluster at each refresh). */
    recent: z.number().int().min(1).max(200).default(30),
  })
  .strict()

export type DashboardOptions = z.infer<typeof dashboardOptionsSchema>
