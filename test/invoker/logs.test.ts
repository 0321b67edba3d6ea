import { PassThrough } from 'node:stream'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { demuxAttach } from '../../agent/invoker/demux.ts'
import { LogCapture, SENTINEL } from '../../agent/invoker/logs.ts'

const S = `${SENTINEL}\n`
const text = (logs: string[]) => logs.map((l) => l.replace(/^\S+ /, ''))

describe('LogCapture', () => {
  it('attributes lines to the activation until both sentinels, in OpenWhisk format', async () => {
    const cap = new LogCapture()
    cap.begin(1024)
    cap.feed('stdout', Buffer.from('hello\nwor'))
    cap.feed('stdout', Buffer.from(`ld\n${S}`))
    cap.feed('stderr', Buffer.from(`oops\n${S}`))
    const { logs, complete } = await cap.finish({ waitMs: 1000, quietMs: 0 })
    expect(complete).toBe(true)
    expect(text(logs)).toEqual(['stdout: hello', 'stdout: world', 'stderr: oops'])
    expect(logs[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z stdout: hello$/)
  })

  it('drops output printed after the sentinels instead of giving it to the next activation', async () => {
    const cap = new LogCapture()
    cap.begin(1024)
    cap.feed('stdout', Buffer.from(`one\n${S}late\n`))
    cap.feed('stderr', Buffer.from(S))
    expect(text((await cap.finish({ waitMs: 1000, quietMs: 0 })).logs)).toEqual(['stdout: one'])
    cap.feed('stdout', Buffer.from('between\n'))
    cap.begin(1024)
    cap.feed('stdout', Buffer.from(`two\n${S}`))
    cap.feed('stderr', Buffer.from(S))
    expect(text((await cap.finish({ waitMs: 1000, quietMs: 0 })).logs)).toEqual(['stdout: two'])
  })

  it('keeps a line printed without a newline right before the sentinel', async () => {
    const cap = new LogCapture()
    cap.begin(1024)
    cap.feed('stdout', Buffer.from(`no newline${S}`))
    cap.feed('stderr', Buffer.from(S))
    expect(text((await cap.finish({ waitMs: 1000, quietMs: 0 })).logs)).toEqual(['stdout: no newline'])
  })

  it('gives start-up output to the first activation', async () => {
    const cap = new LogCapture()
    cap.feed('stderr', Buffer.from('listening\n'))
    cap.begin(1024)
    cap.feed('stdout', Buffer.from(S))
    cap.feed('stderr', Buffer.from(S))
    expect(text((await cap.finish({ waitMs: 1000, quietMs: 0 })).logs)).toEqual(['stderr: listening'])
  })

  it('reports incomplete logs when a sentinel never comes, within the bound', async () => {
    const cap = new LogCapture()
    cap.begin(1024)
    cap.feed('stdout', Buffer.from(`partial${S}`))
    cap.feed('stderr', Buffer.from('no sentinel'))
    const { logs, complete } = await cap.finish({ waitMs: 20, quietMs: 0 })
    expect(complete).toBe(false)
    expect(text(logs)).toEqual(['stdout: partial', 'stderr: no sentinel'])
  })

  it('truncates at the limit with a marker line and still sees the sentinels', async () => {
    const cap = new LogCapture()
    cap.begin(100)
    for (let i = 0; i < 10; i++) cap.feed('stdout', Buffer.from(`line number ${i}\n`))
    cap.feed('stdout', Buffer.from(S))
    cap.feed('stderr', Buffer.from(S))
    const { logs, complete } = await cap.finish({ waitMs: 1000, quietMs: 0 })
    expect(complete).toBe(true)
    expect(logs.length).toBeLessThan(10)
    expect(logs.at(-1)).toMatch(
      /Logs were truncated because the total bytes size exceeds the limit of 100 bytes\.$/,
    )
  })

  it('decodes multi-byte characters split across chunks', async () => {
    const cap = new LogCapture()
    cap.begin(1024)
    const bytes = Buffer.from('héllo ✓\n')
    cap.feed('stdout', bytes.subarray(0, 2))
    cap.feed('stdout', bytes.subarray(2, 9))
    cap.feed('stdout', Buffer.concat([bytes.subarray(9), Buffer.from(S)]))
    cap.feed('stderr', Buffer.from(S))
    expect(text((await cap.finish({ waitMs: 1000, quietMs: 0 })).logs)).toEqual(['stdout: héllo ✓'])
  })

  // Today's capture re-joined and re-split the whole partial line on every chunk: 64 MiB in 64 KiB
  // chunks took minutes (quadratic). Linear, it is well under a second; the bound is the test timeout.
  it('takes 64 MiB without a newline in linear time, keeps only the limit and says the logs were truncated', {
    timeout: 30_000,
  }, async () => {
    const cap = new LogCapture()
    cap.begin(1024 * 1024)
    cap.feed('stdout', Buffer.from('before\n'))
    const chunk = Buffer.alloc(64 * 1024, 'x')
    for (let i = 0; i < 1024; i++) cap.feed('stdout', chunk)
    cap.feed('stdout', Buffer.from(S))
    cap.feed('stderr', Buffer.from(`after\n${S}`))
    const { logs, complete } = await cap.finish({ waitMs: 1000, quietMs: 0 })
    expect(complete).toBe(true)
    expect(text(logs)).toEqual([
      'stdout: before',
      'stderr: Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes.',
    ])
  })

  it('keeps an overlong unterminated line out of the logs of a container that exits', async () => {
    const cap = new LogCapture()
    cap.begin(1000)
    cap.feed('stderr', Buffer.alloc(5000, 'y'))
    cap.end()
    const { logs, complete } = await cap.finish({ waitMs: 100, quietMs: 0 })
    expect(complete).toBe(false)
    expect(logs).toHaveLength(1)
    expect(logs[0]).toMatch(/Logs were truncated/)
  })

  it('splits the tagged lines of concurrent activations by id, each ending at its own sentinels', async () => {
    const cap = new LogCapture()
    const tag = (id: string, line: string) => `\u001e${id}\u001f${line}\n`
    cap.feed('stdout', Buffer.from('listening\n'))
    cap.begin(1024, 'a')
    cap.begin(1024, 'b')
    cap.feed('stdout', Buffer.from(tag('a', 'a one') + tag('b', 'b one')))
    cap.feed('stderr', Buffer.from(tag('b', 'b err') + tag('b', SENTINEL)))
    cap.feed('stdout', Buffer.from(`untagged\n${tag('b', SENTINEL)}${tag('a', 'a two')}`))
    const b = await cap.finish({ waitMs: 1000, quietMs: 0 }, 'b')
    expect(b.complete).toBe(true)
    expect(text(b.logs)).toEqual(['stdout: b one', 'stderr: b err'])
    cap.feed('stdout', Buffer.from(tag('b', 'b late') + tag('a', SENTINEL)))
    cap.feed('stderr', Buffer.from(tag('a', SENTINEL)))
    const a = await cap.finish({ waitMs: 1000, quietMs: 0 }, 'a')
    // Start-up output goes to the first; an untagged line once the runtime tags, and a late line of
    // an activation that ended, to none.
    expect(text(a.logs)).toEqual(['stdout: listening', 'stdout: a one', 'stdout: a two'])
  })

  it('gives untagged output to the first concurrent activation until the runtime tags (its /init)', async () => {
    const cap = new LogCapture()
    cap.begin(1024, 'a')
    cap.feed('stderr', Buffer.from('Error during initialization\n'))
    cap.feed('stdout', Buffer.from(`${S}`))
    cap.feed('stderr', Buffer.from(`${S}`))
    const a = await cap.finish({ waitMs: 1000, quietMs: 0 }, 'a')
    expect(a.complete).toBe(true)
    expect(text(a.logs)).toEqual(['stderr: Error during initialization'])
  })

  it('ends the logs of an abandoned concurrent activation at once, with what it printed so far', async () => {
    const cap = new LogCapture()
    cap.begin(1024, 'a')
    cap.feed('stdout', Buffer.from('\u001ea\u001fso far\n'))
    const a = await cap.finish({ waitMs: 0, quietMs: 0 }, 'a')
    expect(a).toMatchObject({ complete: false })
    expect(text(a.logs)).toEqual(['stdout: so far'])
  })
})

/** One frame of Docker's multiplexed attach stream. */
function frame(type: 1 | 2, payload: Buffer): Buffer {
  const h = Buffer.alloc(8)
  h[0] = type
  h.writeUInt32BE(payload.length, 4)
  return Buffer.concat([h, payload])
}

describe('demuxAttach', () => {
  it('splits stdout and stderr wherever the chunks are cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(1 as const, 2 as const), fc.uint8Array({ maxLength: 64 })), {
          maxLength: 20,
        }),
        fc.array(fc.nat(40), { maxLength: 30 }),
        (frames, cuts) => {
          const wire = Buffer.concat(frames.map(([t, p]) => frame(t, Buffer.from(p))))
          const stream = new PassThrough()
          const got = { stdout: [] as Buffer[], stderr: [] as Buffer[] }
          demuxAttach(
            stream,
            (w, d) => got[w].push(Buffer.from(d)),
            (err) => {
              throw err
            },
          )
          let at = 0
          for (const c of cuts) {
            stream.write(wire.subarray(at, at + c))
            at += c
          }
          stream.write(wire.subarray(at))
          const want = (t: 1 | 2) =>
            Buffer.concat(frames.filter(([ft]) => ft === t).map(([, p]) => Buffer.from(p)))
          expect(Buffer.concat(got.stdout)).toEqual(want(1))
          expect(Buffer.concat(got.stderr)).toEqual(want(2))
        },
      ),
      { seed: 15, numRuns: 300 },
    )
  })

  it('turns a throw from its handler into onError, never an uncaught exception', async () => {
    const stream = new PassThrough()
    const errors: unknown[] = []
    let calls = 0
    demuxAttach(
      stream,
      () => {
        calls++
        throw new Error('handler failed')
      },
      (err) => errors.push(err),
    )
    const uncaught: unknown[] = []
    const onUncaught = (err: unknown) => uncaught.push(err)
    process.on('uncaughtException', onUncaught)
    stream.write(frame(1, Buffer.from('a')))
    stream.write(frame(1, Buffer.from('b')))
    await new Promise((r) => setImmediate(r))
    process.off('uncaughtException', onUncaught)
    expect(uncaught).toEqual([])
    expect(errors).toHaveLength(1)
    expect(calls).toBe(1)
  })
})
