// The OpenWhisk action protocol on port 8080 for kind nodejs:24: POST /init, POST /run, log sentinels.
// Behaviour follows apache/openwhisk-runtime-nodejs (src/service.js); no npm dependencies.
const http = require('node:http')
const { install } = require('./concurrent.js')
const { load, run } = require('./runner.js')

const PORT = Number(process.env.__OW_PROXY_PORT || 8080)
// A 48 MiB zip is 64 MiB in base64, plus the JSON around it: 96 MiB leaves room (the agent's
// store.maxCodeBytes bounds the code before it gets here).
const MAX_BODY = Number(process.env.__OW_MAX_BODY_BYTES || 96 * 1024 * 1024)
const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n'

let status = 'ready' // ready | starting | running | stopped
let handler
/** Set once initialised with __OW_ALLOW_CONCURRENT=true: runs each activation in its own context. */
let concurrent = null

const write = (stream, text) => new Promise((resolve) => stream.write(text, () => resolve()))

/** Ends an activation's logs: the sentinel on stdout and on stderr, after what the action wrote. */
async function writeMarkers() {
  concurrent?.flush()
  await Promise.all([write(process.stdout, SENTINEL), write(process.stderr, SENTINEL)])
}

function setEnv(env) {
  if (!env || typeof env !== 'object') return
  for (const [key, val] of Object.entries(env)) {
    process.env[key] = val !== null && typeof val === 'object' ? JSON.stringify(val) : String(val ?? '')
  }
}

async function init(body) {
  if (handler !== undefined) return [403, { error: 'Cannot initialize the action more than once.' }]
  if (status !== 'ready') return [403, { error: `System not ready, status is ${status}.` }]
  const message = body?.value || {}
  const { main, code } = message
  if (!main || !code || typeof main !== 'string' || typeof code !== 'string') {
    return [403, { error: 'Missing main/no code to execute.' }]
  }
  status = 'starting'
  try {
    setEnv(message.env)
    handler = load(message)
    // From the container's env or the action's (the agent sets it in /init's env when the
    // function's limits.concurrency is above 1, so a prewarmed container can serve it too).
    if (process.env.__OW_ALLOW_CONCURRENT === 'true') concurrent = install()
    status = 'ready'
    return [200, { ok: true }]
  } catch (err) {
    status = 'stopped'
    console.error('Error during initialization:', err)
    await writeMarkers()
    return [502, { error: `Initialization has failed due to: ${err?.stack ? String(err.stack) : err}` }]
  }
}

async function runAction(body) {
  if (handler === undefined) return [403, { error: 'System not initialized.' }]
  if (status !== 'ready') return [403, { error: `System not ready, status is ${status}.` }]
  const msg = body && typeof body === 'object' ? body : {}
  const args = msg.value === undefined || msg.value === null ? {} : msg.value
  if (typeof args !== 'object') {
    return [
      403,
      { error: `Internal system error: the argument must be a dictionary but has type '${typeof args}'.` },
    ]
  }
  const env = {}
  for (const [key, val] of Object.entries(msg)) {
    if (key !== 'value' && (typeof val === 'string' || typeof val === 'number')) {
      env[`__OW_${key.toUpperCase()}`] = String(val)
    }
  }
  // Also in the process's env, as OpenWhisk does (code outside an activation sees the latest).
  Object.assign(process.env, env)
  if (concurrent) return concurrent.run(String(msg.activation_id ?? ''), env, () => settle(args))
  status = 'running'
  try {
    return await settle(args)
  } finally {
    status = 'ready'
  }
}

/** Runs the action and answers: its result or the error, after its log sentinels. */
async function settle(args) {
  const outcome = await run(handler, args)
  let reply
  if ('thrown' in outcome) {
    console.error(outcome.thrown)
    reply = [502, { error: `An error has occurred: ${outcome.thrown}` }]
  } else if ('rejected' in outcome) {
    // A rejected Promise is a successful answer wrapping the error (an application error), as in OpenWhisk.
    reply = [200, { error: outcome.rejected }]
  } else if (typeof outcome.ok !== 'object') {
    console.error(`Result must be of type object but has type "${typeof outcome.ok}":`, outcome.ok)
    reply = [502, { error: 'The action did not return a dictionary.' }]
  } else {
    reply = [200, outcome.ok]
  }
  await writeMarkers()
  return reply
}

class TooLarge extends Error {}

/** The JSON body; past MAX_BODY the rest is read and dropped, so the caller gets a 413, not a reset. */
function readJson(req) {
  return new Promise((resolve, reject) => {
    let chunks = []
    let size = 0
    req.on('data', (chunk) => {
      size += chunk.length
      if (size > MAX_BODY) chunks = null
      else chunks?.push(chunk)
    })
    req.on('end', () => {
      if (!chunks)
        return reject(
          new TooLarge(`The request is larger than the runtime accepts: ${size} > ${MAX_BODY} bytes.`),
        )
      try {
        resolve(size ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {})
      } catch {
        resolve({})
      }
    })
    req.on('error', reject)
  })
}

const server = http.createServer(async (req, res) => {
  let reply = [404, { error: `Not found: ${req.method} ${req.url}` }]
  try {
    if (req.method === 'POST' && req.url === '/init') reply = await init(await readJson(req))
    else if (req.method === 'POST' && req.url === '/run') reply = await runAction(await readJson(req))
  } catch (err) {
    reply =
      err instanceof TooLarge ? [413, { error: err.message }] : [500, { error: `Internal error. ${err}` }]
  }
  const text = JSON.stringify(reply[1]) ?? '{}'
  res.writeHead(reply[0], { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
})
// Actions may run for minutes (OpenWhisk allows 300 s and more): no server-side timeouts.
server.requestTimeout = 0
server.timeout = 0
server.keepAliveTimeout = 0
server.listen(PORT, '0.0.0.0')

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0))
