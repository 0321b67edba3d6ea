/**
 * The error catalogue: every stable code the agent, its forwarding protocol or the CLI can
 * return, defined once with the HTTP status it answers and one line of doc. Tests and scripts
 * match on the codes; docs/api.md lists exactly these (test/errors.test.ts checks both ways).
 * `make` names the code's constructor in `errors` below. `where` says who sees it: `api`
 * crosses the local API to the CLI; `forwarding` is a target's refusal on the forwarding
 * protocol (the sender tries the next node, and reports the refusals inside NODE_FULL when every
 * node refused); `cli` is raised by the CLI itself.
 */
export const ERROR_CODES = {
  INVALID_ARGUMENT: {
    make: 'invalidArgument',
    status: 400,
    where: 'api',
    doc: 'a request field is missing, malformed or out of range',
  },
  INVALID_NAME: {
    make: 'invalidName',
    status: 400,
    where: 'api',
    doc: 'a function or package name breaks the naming rules',
  },
  INVALID_KIND: {
    make: 'invalidKind',
    status: 400,
    where: 'api',
    doc: 'a runtime kind this agent does not know',
  },
  INVALID_SEQUENCE: {
    make: 'invalidSequence',
    status: 400,
    where: 'api',
    doc: "a sequence with no component, too many, a missing one, or one that refers back to itself (OpenWhisk's messages)",
  },
  INVALID_JSON: { make: 'invalidJson', status: 400, where: 'api', doc: 'a request body that is not JSON' },
  INVALID_CONFIG: {
    make: 'invalidConfig',
    status: 400,
    where: 'api',
    doc: 'a configuration value (file, env or flag) fails validation',
  },
  CLUSTER_KEY_MISSING: {
    make: 'clusterKeyMissing',
    status: 400,
    where: 'api',
    doc: 'no cluster key file where the config points',
  },
  CLUSTER_KEY_INVALID: {
    make: 'clusterKeyInvalid',
    status: 400,
    where: 'api',
    doc: 'the cluster key file is not a pnet swarm key',
  },
  NOT_FOUND: { make: 'notFound', status: 404, where: 'api', doc: 'no such function or activation' },
  ROUTE_NOT_FOUND: { make: 'routeNotFound', status: 404, where: 'api', doc: 'no such API path' },
  BINDING_INVALID: {
    make: 'bindingInvalid',
    status: 400,
    where: 'api',
    doc: "a package binding to a missing (or another namespace's unpublished) package, to another binding, to itself, or a package turned into a binding (OpenWhisk's messages; nothing is stored)",
  },
  PACKAGE_NOT_EMPTY: {
    make: 'packageNotEmpty',
    status: 409,
    where: 'api',
    doc: 'a delete of a package that still holds actions',
  },
  VERSION_NOT_FOUND: {
    make: 'versionNotFound',
    status: 404,
    where: 'api',
    doc: '`name@N`, `fn rollback name N`: the function has no version N (nothing runs or changes)',
  },
  UNKNOWN_NAMESPACE: {
    make: 'unknownNamespace',
    status: 404,
    where: 'api',
    doc: '`--namespace` names a namespace no API key belongs to (nothing is read or written)',
  },
  ALREADY_EXISTS: {
    make: 'conflict',
    status: 409,
    where: 'api',
    doc: '`mode: create` on an existing function, or a key file already there',
  },
  WRITE_LOST: {
    make: 'writeLost',
    status: 409,
    where: 'api',
    doc: 'a create, update or delete lost by last-writer-wins to a concurrent write of the same function: not applied',
  },
  DATA_DIR_LOCKED: {
    make: 'dataDirLocked',
    status: 409,
    where: 'api',
    doc: 'another agent is using the data directory',
  },
  TOO_LARGE: {
    make: 'tooLarge',
    status: 413,
    where: 'api',
    doc: 'a function PUT body over `localApi.maxBodyBytes`, any other body over `invoker.maxPayloadBytes` ("Request larger than allowed: N > M bytes.", refused before it is buffered), code over `store.maxCodeBytes`, or parameters over 1 MiB',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    make: 'unsupportedMediaType',
    status: 415,
    where: 'api',
    doc: 'a body that is not `application/json`',
  },
  RUNTIME_MISSING: {
    make: 'runtimeMissing',
    status: 424,
    where: 'api',
    doc: 'the runtime image is not built on this node (`fnagent runtime build`)',
  },
  INTERNAL: { make: 'internal', status: 500, where: 'api', doc: 'a bug: the agent log has the stack' },
  ISOLATION_UNAVAILABLE: {
    make: 'isolationUnavailable',
    status: 500,
    where: 'api',
    doc: 'at start: host isolation is on and its iptables rules cannot be installed (the agent does not start)',
  },
  START_PRECONDITION: {
    make: 'startPrecondition',
    status: 400,
    where: 'api',
    doc: '`fnagent start` found something a start needs missing, before starting anything (the message lists each)',
  },
  PEER_UNREACHABLE: {
    make: 'peerUnreachable',
    status: 502,
    where: 'api',
    doc: 'a peer that held the answer could not be reached',
  },
  QUEUE_FULL: {
    make: 'queueFull',
    status: 429,
    where: 'api',
    doc: 'an invocation that would queue past the queue bound (`queue.maxJobs`, or the cluster bound `queue.clusterMaxJobs`): nothing was stored; try again after `Retry-After`',
  },
  TOO_MANY_REQUESTS: {
    make: 'tooManyRequests',
    status: 429,
    where: 'api',
    doc: "a namespace over its limit of concurrent activations or of invocations per minute in the cluster (OpenWhisk's 429 messages)",
  },
  NODE_FULL: {
    make: 'nodeFull',
    status: 503,
    where: 'api',
    doc: 'no memory left for the container (on every node asked)',
  },
  WEBHOOK_DENIED: {
    make: 'webhookDenied',
    status: 403,
    where: 'api',
    doc: "a webhook POST whose secret is not the trigger's (or the trigger has no webhook): nothing is fired",
  },
  DRAINING: { make: 'draining', status: 503, where: 'api', doc: 'the agent is stopping' },
  UNAVAILABLE: {
    make: 'unavailable',
    status: 503,
    where: 'api',
    doc: 'the service is not running here (e.g. `--no-cluster`)',
  },
  NOT_WARM: {
    make: 'notWarm',
    status: 409,
    where: 'forwarding',
    doc: 'asked as a warm node, the target has no idle warm container',
  },
  WOULD_EVICT: {
    make: 'wouldEvict',
    status: 409,
    where: 'forwarding',
    doc: "the target could start it only by evicting another function's warm container",
  },
  BUSY: {
    make: 'busy',
    status: 503,
    where: 'forwarding',
    doc: 'too many requests in flight from the sender on one channel',
  },
  HOPS: {
    make: 'hops',
    status: 508,
    where: 'forwarding',
    doc: 'the invocation was forwarded too many times',
  },
  INVALID: {
    make: 'invalidRequest',
    status: 400,
    where: 'forwarding',
    doc: 'the forwarded request failed validation',
  },
  CODE_MISSING: {
    make: 'codeMissing',
    status: 503,
    where: 'forwarding',
    doc: "the function's code is on no reachable node",
  },
  UNREACHABLE: {
    make: 'unreachable',
    status: 502,
    where: 'forwarding',
    doc: 'the sender could not open a stream to the target (nothing was sent)',
  },
  USAGE: {
    make: 'usage',
    status: 400,
    where: 'cli',
    doc: 'a CLI mistake found before asking the agent (exit code 2)',
  },
  NO_AGENT: { make: 'noAgent', status: 503, where: 'cli', doc: 'no agent answers on the socket' },
} as const satisfies Record<
  string,
  { make: string; status: number; where: 'api' | 'forwarding' | 'cli'; doc: string }
>

export type ErrorCode = keyof typeof ERROR_CODES

/** Every code, for a wire schema (`z.enum(ERROR_CODE_LIST)`): a code outside the catalogue fails validation. */
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]

type ErrorOpts = { cause?: unknown; details?: Record<string, unknown> }

/**
 * One error class per failure, each with a stable `code` that crosses the API to the CLI.
 * `status` is the HTTP status the local API answers with. A user mistake (`expose: true`)
 * prints one line without a stack in the CLI; INTERNAL is a bug and keeps its stack.
 * Build one through `errors` below, never with a literal code.
 */
export class FnError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly expose: boolean
  readonly details?: Record<string, unknown>

  constructor(code: ErrorCode, message: string, opts: ErrorOpts = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'FnError'
    this.code = code
    this.status = ERROR_CODES[code].status
    this.expose = code !== 'INTERNAL'
    this.details = opts.details
  }
}

/** `errors.invalidArgument(message, opts)` and so on: the constructor each code's `make` names. */
type Makers = {
  [C in ErrorCode as (typeof ERROR_CODES)[C]['make']]: (message: string, opts?: ErrorOpts) => FnError
}

/** The constructors of the catalogue's codes: every FnError is built through one of these. */
export const errors = Object.fromEntries(
  Object.entries(ERROR_CODES).map(([code, e]) => [
    e.make,
    (message: string, opts: ErrorOpts = {}) => new FnError(code as ErrorCode, message, opts),
  ]),
) as Makers

export function isFnError(err: unknown): err is FnError {
  return err instanceof FnError
}

/** Wraps any thrown value into an FnError, keeping it as the cause. */
export function toFnError(err: unknown): FnError {
  if (err instanceof FnError) return err
  const message = err instanceof Error ? err.message : String(err)
  return errors.internal(message, { cause: err })
}
