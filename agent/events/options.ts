import { z } from 'zod'

/** Alarm options (config section `alarms`): how the owner of an alarm schedules its ticks. */
export const alarmOptionsSchema = z
  .object({
    /**
     * The scheduler looks at every alarm at least this often (ownership changes, new alarms), ms;
     * between looks it sleeps until the next tick it owns.
     */
    checkMs: z.number().int().min(50).max(60_000).default(1000),
    /**
     * A tick missed (its owner died, the cluster was down) fires late while it is at most this old,
     * with its scheduled time in the record; an older one is skipped and logged, ms.
     */
    catchUpMs: z.number().int().min(0).max(86_400_000).default(600_000),
    /** Missed ticks of one alarm fired in one look, at most (the rest in the next looks). */
    maxCatchUp: z.number().int().min(1).max(10_000).default(100),
  })
  .strict()

export type AlarmOptions = z.infer<typeof alarmOptionsSchema>
export const ALARM_DEFAULTS: AlarmOptions = alarmOptionsSchema.parse({})
