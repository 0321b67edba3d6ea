import type { Readable } from 'node:stream'

const HEADER = 8

/**
 * Splits Docker's multiplexed attach stream (8-byte headers: stream type, 3 zero bytes, length) into
 * stdout and stderr chunks, in linear time: a frame's payload is handed on in the pieces it arrives
 * in, never re-joined (docker-modem's `demuxStream` concatenates its whole buffer on every chunk).
 * A throw from `onChunk` never escapes into the stream's event handler (it would be an uncaught
 * exception, ending the agent): it goes to `onError` and the rest of the output is ignored.
 */
export function demuxAttach(
  stream: Readable,
  onChunk: (which: 'stdout' | 'stderr', data: Buffer) => void,
  onError: (err: unknown) => void,
): void {
  const header = Buffer.alloc(HEADER)
  let headerBytes = 0
  let which: 'stdout' | 'stderr' = 'stdout'
  let left = 0
  let failed = false
  stream.on('data', (data: Buffer) => {
    if (failed) return
    try {
      let at = 0
      while (at < data.length) {
        if (left === 0) {
          const n = Math.min(HEADER - headerBytes, data.length - at)
          data.copy(header, headerBytes, at, at + n)
          headerBytes += n
          at += n
          if (headerBytes < HEADER) break
          headerBytes = 0
          which = header[0] === 2 ? 'stderr' : 'stdout'
          left = header.readUInt32BE(4)
          continue
        }
        const n = Math.min(left, data.length - at)
        const piece = data.subarray(at, at + n)
        at += n
        left -= n
        if (header[0] === 1 || header[0] === 2) onChunk(which, piece)
      }
    } catch (err) {
      failed = true
      onError(err)
    }
  })
}
