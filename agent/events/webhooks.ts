import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { errors } from '../errors.ts'
import type { SecretBox } from '../store/index.ts'
import type { EventService } from './service.ts'

export interface WebhookComponents {
  events: EventService
  /** Seals the secret on the trigger record (at rest and on the wire, as function secrets are). */
  secrets: SecretBox
}

/** The webhook's URL path on the OpenWhisk API listener, for a trigger. */
export const webhookPath = (namespace: string, name: string) =>
  `/api/v1/webhooks/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`

/** The header that carries the secret (never the URL, which lands in logs and proxies). */
export const WEBHOOK_SECRET_HEADER = 'x-webhook-secret'

/**
 * Webhook triggers (Iron.io's webhooks): a trigger with a webhook is fired by an HTTP POST to its
 * path carrying its secret, with no API key, so an external system can send events. The secret is
 * the trigger's own, kept sealed on the trigger record (so it replicates and any node answers),
 * and compared in constant time.
 */
export class Webhooks {
  readonly #c: WebhookComponents

  constructor(components: WebhookComponents) {
    this.#c = components
  }

  /** The trigger's webhook secret, made on first use or when `rotate` asks for a new one. */
  async enable(
    namespace: string,
    name: string,
    rotate: boolean,
  ): Promise<{ path: string; secret: string; created: boolean }> {
    const t = await this.#c.events.getTrigger(namespace, name)
    const path = webhookPath(namespace, name)
    if (t.webhook && !rotate) return { path, secret: this.#open(namespace, name, t.webhook), created: false }
    const secret = randomBytes(24).toString('base64url')
    await this.#c.events.writeRecord({
      ...t,
      version: t.version + 1,
      webhook: this.#c.secrets.seal(sealPath(namespace, name), secret),
    })
    return { path, secret, created: true }
  }

  /** Removes the trigger's webhook: its old secret fires nothing any more. */
  async disable(namespace: string, name: string): Promise<void> {
    const t = await this.#c.events.getTrigger(namespace, name)
    if (!t.webhook) return
    const { webhook: _w, ...rest } = t
    await this.#c.events.writeRecord({ ...rest, version: t.version + 1 })
  }

  /**
   * Fires the trigger when `presented` is its webhook's secret, with the payload `read` gives (read
   * only then); otherwise WEBHOOK_DENIED, the same for a wrong secret, a trigger without a webhook
   * and a missing trigger (nothing is fired or read, and nothing tells a caller without the secret
   * which triggers exist). The trigger activation's id, or null when no active rule ran.
   */
  async fire(
    namespace: string,
    name: string,
    presented: string,
    read: () => Promise<Record<string, unknown>>,
  ): Promise<string | null> {
    const t = await this.#c.events.getTrigger(namespace, name).catch(() => null)
    const secret = t?.webhook ? this.#open(namespace, name, t.webhook) : null
    if (!secret || !sameSecret(presented, secret))
      throw errors.webhookDenied('the webhook secret does not match (or the trigger has no webhook)')
    return this.#c.events.fire(namespace, name, await read(), `webhook:${namespace}/${name}`)
  }

  #open(namespace: string, name: string, sealed: string): string {
    return String(this.#c.secrets.open(sealPath(namespace, name), sealed))
  }
}

const sealPath = (namespace: string, name: string) => `webhook:${namespace}/${name}`

/** Constant time whatever the lengths: both sides hashed to 32 bytes first. */
function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(h(a), h(b))
}
