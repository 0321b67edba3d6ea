import type { ActivationService } from '../../activations/index.ts'
import type { AlarmService, EventService, Webhooks } from '../../events/index.ts'
import type { FunctionService, PackageService } from '../../functions/index.ts'
import type { Logger } from '../../log.ts'
import type { Store } from '../../store/index.ts'
import type { BridgeEndpointComponents } from './bridge.ts'
import type { ApiKeyStore } from './keys.ts'
import type { OpenWhiskApiOptions } from './options.ts'
import type { RecordWaiter } from './waiter.ts'

/** What the OpenWhisk API uses of the agent. */
export interface OpenWhiskApiComponents {
  logger: Logger
  functions: Pick<FunctionService, 'get' | 'list' | 'put' | 'remove' | 'resolve'>
  packages: PackageService
  /** Triggers and rules. */
  events: EventService
  /** The alarm feeds of `/whisk.system/alarms` (absent: the package answers 404). */
  alarms?: Pick<AlarmService, 'feed'>
  /** Webhook triggers, `POST /api/v1/webhooks/{ns}/{trigger}` (absent: 404). */
  webhooks?: Pick<Webhooks, 'fire'>
  activations: Pick<ActivationService, 'invoke' | 'list' | 'get'>
  store: Pick<Store, 'db' | 'functions' | 'activations' | 'packages'>
  keys: ApiKeyStore
  /** The functions' bridge, for the endpoint containers call (`openwhiskApi.bridgePort`). */
  functionsBridge?: Omit<BridgeEndpointComponents, 'logger'>
  /** Serves `GET /dashboard` and below it (behind an API key) when present. */
  dashboard?: { reply(path: string): Promise<Reply> }
  /** Serves `GET /metrics` (Prometheus text format, no API key) when present. */
  metrics?: { scrape(): Promise<{ contentType: string; body: string }> }
}

export interface OpenWhiskApiInit extends OpenWhiskApiOptions {
  /** The node's namespace (`config.namespace`); `_` means it too. */
  namespace: string
  /** Largest invocation or web action body, bytes (`invoker.maxPayloadBytes`; OpenWhisk: 1 MB). */
  maxPayloadBytes: number
}

export interface Reply {
  status: number
  body: unknown
  /** A header with several values (e.g. `Set-Cookie`) is an array. */
  headers?: Record<string, string | string[]>
}

/** The components plus what the server builds for its handlers. */
export interface ApiContext extends OpenWhiskApiComponents {
  waiter: RecordWaiter
}
