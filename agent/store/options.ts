import { z } from 'zod'

/** Store options (config section `store`). */
export const storeOptionsSchema = z
  .object({
    /** Largest function code (source or zip), bytes. OpenWhisk: 48 MB. */
    maxCodeBytes: z
      .number()
      .int()
      .min(1024)
      .max(512 * 1024 * 1024)
      .default(48 * 1024 * 1024),
  })
  .strict()
