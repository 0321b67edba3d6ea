import { z } from 'zod'

/** Local API options (config section `localApi`; the socket's path is the top-level `socket`). */
export const localApiOptionsSchema = z
  .object({
    /** Largest function PUT body on the local API, bytes (code travels base64 inside JSON); other bodies take `invoker.maxPayloadBytes`. */
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .default(72 * 1024 * 1024),
    /** Group that owns the socket (mode 0660), e.g. `fnagent`; default the agent's own group. */
    socketGroup: z.string().min(1).optional(),
  })
  .strict()
