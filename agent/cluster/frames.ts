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

/** A frame that would exceed the bound; nothing was sent. */
export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError'
}

/** Frames waiting to be sent passed the bound: the peer stopped reading. Nothing was queued. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError'
}

/** Bytes queued behind a peer that stopped reading, beyond one frame of the largest size. */
const QUEUE_SLACK = 8 * 1024 * 1024

/**
 * Sends frames in order, waiting for the stream to drain when its buffer is full. What waits is
 * bounded (`maxQueuedBytes`, default one largest frame plus 8 MiB): past it, `write` refuses.
 */
export class FrameWriter {
  readonly #stream: Stream
  readonly #maxBytes: number
  readonly #maxQueued: number
  readonly #meter: ByteMeter | undefined
  #queue: Promise<void> = Promise.resolve()
  #queued = 0

  constructor(stream: Stream, maxBytes: number, meter?: ByteMeter, maxQueuedBytes?: number) {
    this.#stream = stream
    this.#maxBytes = maxBytes
    this.#maxQueued = maxQueuedBytes ?? maxBytes + QUEUE_SLACK
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
    // Ours and the stream's: libp2p keeps what the peer's window does not take yet, without bound.
    const waiting = this.#queued + this.#stream.writeBufferLength
    if (waiting > 0 && waiting + bytes.byteLength > this.#maxQueued) {
      return Promise.reject(
        new QueueFullError(`${waiting} bytes wait to be sent, over the limit of ${this.#maxQueued}`),
      )
    }
    this.#queued += bytes.byteLength
    this.#meter?.('out', bytes.byteLength)
    const next = this.#queue.then(async () => {
      try {
        if (!this.#stream.send(bytes)) await this.#stream.onDrain()
        return bytes.byteLength
      } finally {
        this.#queued -= bytes.byteLength
      }
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
