/**
 * The framing of request channels (channel.ts): a 4-byte big-endian length, then JSON
 * `{ id, body }` or `{ id, error }`; frames are bounded in size and written in order.
 */
import type { Stream } from '@libp2p/interface'

export const HEADER = 4
const encoder = new TextEncoder()
export const decoder = new TextDecoder()

export interface Frame {
  id: number
  body?: unknown
  /** Instead of a body: the handler failed (the request may or may not have had effects). */
  error?: string
}

/** Counts frame bytes sent (`out`) and received (`in`), for traffic statistics. */
export type ByteMeter = (direction: 'in' | 'out', bytes: number) => void

function encodeFrame(frame: Frame): Uint8Array {
  const json = encoder.encode(JSON.stringify(frame))
  const out = new Uint8Array(HEADER + json.byteLength)
  new DataView(out.buffer).setUint32(0, json.byteLength)
  out.set(json, HEADER)
  return out
}

/** Splits a byte stream into frames; `onFrame` gets each frame's bytes, `onError` an oversized one. */
export class FrameReader {
  readonly #max: number
  #chunks: Uint8Array[] = []
  #buffered = 0

  constructor(maxBytes: number) {
    this.#max = maxBytes
  }

  /** Appends `data`; returns the complete frames now available. Throws on an oversized frame. */
  push(data: Uint8Array): Uint8Array[] {
    this.#chunks.push(data)
    this.#buffered += data.byteLength
    const frames: Uint8Array[] = []
    while (this.#buffered >= HEADER) {
      const head = this.#peek(HEADER)
      const len = new DataView(head.buffer, head.byteOffset, HEADER).getUint32(0)
      if (len > this.#max) throw new Error(`frame of ${len} bytes is over the limit of ${this.#max}`)
      if (this.#buffered < HEADER + len) break
      const all = this.#take(HEADER + len)
      frames.push(all.subarray(HEADER))
    }
    return frames
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[0]!
    if (first.byteLength >= n) return first.subarray(0, n)
    return this.#join().subarray(0, n)
  }

  #take(n: number): Uint8Array {
    const first = this.#join(n)
    const out = first.subarray(0, n)
    const rest = first.subarray(n)
    this.#chunks = rest.byteLength > 0 ? [rest] : []
    this.#buffered -= n
    return out
  }

  /** Merges chunks until the first holds at least `atLeast` bytes (all of them by default). */
  #join(atLeast = this.#buffered): Uint8Array {
    if (this.#chunks[0]!.byteLength >= atLeast) return this.#chunks[0]!
    const merged = new Uint8Array(this.#buffered)
    let at = 0
    for (const c of this.#chunks) {
      merged.set(c, at)
      at += c.byteLength
    }
    this.#chunks = [merged]
    return merged
  }
}

/** Sends frames in order, waiting for the stream to drain when its buffer is full. */
/** A frame that would exceed the bound; nothing was sent. */
export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError'
}

/** Sends frames in order, waiting for the stream to drain when its buffer is full. */
export class FrameWriter {
  readonly #stream: Stream
  readonly #maxBytes: number
  readonly #meter: ByteMeter | undefined
  #queue: Promise<void> = Promise.resolve()

  constructor(stream: Stream, maxBytes: number, meter?: ByteMeter) {
    this.#stream = stream
    this.#maxBytes = maxBytes
    this.#meter = meter
  }

  /**
   * Queues `frame`; resolves with its size once the stream took it. A frame over the bound is
   * refused (FrameTooLargeError) before anything is sent: the peer would end the channel.
   */
  write(frame: Frame): Promise<number> {
    const bytes = encodeFrame(frame)
    if (bytes.byteLength - HEADER > this.#maxBytes) {
      return Promise.reject(
        new FrameTooLargeError(`${bytes.byteLength - HEADER} bytes, over the limit of ${this.#maxBytes}`),
      )
    }
    this.#meter?.('out', bytes.byteLength)
    const next = this.#queue.then(async () => {
      if (!this.#stream.send(bytes)) await this.#stream.onDrain()
      return bytes.byteLength
    })
    this.#queue = next.then(
      () => {},
      () => {},
    )
    return next
  }
}

export function chunkOf(data: Uint8Array | { subarray(): Uint8Array }): Uint8Array {
  return data instanceof Uint8Array ? data : data.subarray()
}
