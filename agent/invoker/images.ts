import type Dockerode from 'dockerode'
import { withTimeout } from './timeout.ts'

/**
 * Which images exist on this engine. Present images are remembered; a missing one is asked again
 * next time (it may have been built since), so building runtimes needs no agent restart.
 */
export class ImageCache {
  readonly #docker: Dockerode
  readonly #timeoutMs: number
  readonly #present = new Set<string>()

  constructor(docker: Dockerode, timeoutMs: number) {
    this.#docker = docker
    this.#timeoutMs = timeoutMs
  }

  async has(image: string): Promise<boolean> {
    if (this.#present.has(image)) return true
    try {
      await withTimeout(this.#docker.getImage(image).inspect(), this.#timeoutMs, 'image inspect')
      this.#present.add(image)
      return true
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return false
      throw err
    }
  }

  /** Forget an image (e.g. a create failed with "no such image"). */
  forget(image: string): void {
    this.#present.delete(image)
  }
}
