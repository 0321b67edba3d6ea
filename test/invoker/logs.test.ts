import { describe, expect, it } from 'vitest'
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
})
