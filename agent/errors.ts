/**
 * One error class per failure, each with a stable `code` that crosses the API to the CLI.
 * `status` is the HTTP status the local API answers with. A user mistake (`expose: true`)
 * prints one line without a stack in the CLI; anything else is a bug and keeps its stack.
 */
export class FnError extends Error {
  readonly code: string
  readonly status: number
  readonly expose: boolean
  readonly details?: Record<string, unknown>

  constructor(
    code: string,
    message: string,
    opts: { status?: number; expose?: boolean; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'FnError'
    this.code = code
    this.status = opts.status ?? 400
    this.expose = opts.expose ?? true
    this.details = opts.details
  }
}

const make =
  (code: string, status: number) =>
  (message: string, opts: { cause?: unknown; details?: Record<string, unknown> } = {}) =>
    new FnError(code, message, { status, ...opts })

/** The catalogue of stable codes. Tests and the CLI match on these strings. */
export const errors = {
  invalidArgument: make('INVALID_ARGUMENT', 400),
  invalidName: make('INVALID_NAME', 400),
  invalidKind: make('INVALID_KIND', 400),
  invalidJson: make('INVALID_JSON', 400),
  invalidConfig: make('INVALID_CONFIG', 400),
  notFound: make('NOT_FOUND', 404),
  routeNotFound: make('ROUTE_NOT_FOUND', 404),
  methodNotAllowed: make('METHOD_NOT_ALLOWED', 405),
  conflict: make('ALREADY_EXISTS', 409),
  tooLarge: make('TOO_LARGE', 413),
  unsupportedMediaType: make('UNSUPPORTED_MEDIA_TYPE', 415),
  nodeFull: make('NODE_FULL', 503),
  draining: make('DRAINING', 503),
  dataDirLocked: make('DATA_DIR_LOCKED', 409),
  runtimeMissing: make('RUNTIME_MISSING', 424),
  timeout: make('TIMEOUT', 504),
  unavailable: make('UNAVAILABLE', 503),
  peerUnreachable: make('PEER_UNREACHABLE', 502),
  /** Host isolation is on but its iptables rules cannot be installed (the agent does not start). */
  isolationUnavailable: make('ISOLATION_UNAVAILABLE', 500),
  /** `fnagent start` found something missing before starting anything (key, peers, Docker, directories). */
  startPrecondition: make('START_PRECONDITION', 400),
  internal: (message: string, opts: { cause?: unknown; details?: Record<string, unknown> } = {}) =>
    new FnError('INTERNAL', message, { status: 500, expose: false, ...opts }),
}

export function isFnError(err: unknown): err is FnError {
  return err instanceof FnError
}

/** Wraps any thrown value into an FnError, keeping it as the cause. */
export function toFnError(err: unknown): FnError {
  if (err instanceof FnError) return err
  const message = err instanceof Error ? err.message : String(err)
  return errors.internal(message, { cause: err })
}
