import { describe, expect, it } from 'vitest'
import { openwhiskApiOptionsSchema, parseListen } from '../../agent/api/openwhisk/options.ts'

describe('http options', () => {
  it('are off by default and parse host:port', () => {
    const o = openwhiskApiOptionsSchema.parse({})
    expect(o.listen).toBeUndefined()
    expect(o.rateLimit).toEqual({ perMinute: 600, burst: 100 })
    expect(parseListen('127.0.0.1:3233')).toEqual({ host: '127.0.0.1', port: 3233 })
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 })
    expect(parseListen('8080')).toEqual({ host: '0.0.0.0', port: 8080 })
  })

  it('refuse a bad address and half a TLS pair', () => {
    expect(openwhiskApiOptionsSchema.safeParse({ listen: 'nope:port' }).success).toBe(false)
    expect(openwhiskApiOptionsSchema.safeParse({ tlsCert: '/c.pem' }).success).toBe(false)
    expect(openwhiskApiOptionsSchema.safeParse({ tlsCert: '/c.pem', tlsKey: '/k.pem' }).success).toBe(true)
  })
})
