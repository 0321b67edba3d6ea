// Several activations at once in one process (the container was started or initialised with
// __OW_ALLOW_CONCURRENT=true, as apache/openwhisk-runtime-nodejs allows). Each activation runs in
// its own AsyncLocalStorage context, which carries its id and its __OW_* variables. Everything it
// writes to stdout/stderr from that context (console.*, process.stdout.write, its timers and
// promises) leaves the process as whole lines that start with a tag, `\x1e<activation id>\x1f`,
// and ends with its own tagged sentinels, so the agent gives each activation exactly its own lines
// (agent/invoker/logs.ts; the rule is in docs/api.md, "Concurrency").
const { AsyncLocalStorage } = require('node:async_hooks')

const TAG_START = '\u001e'
const TAG_END = '\u001f'
/** A line longer than this (OpenWhisk's largest log limit) is sent in pieces rather than held. */
const MAX_PARTIAL = 10 * 1024 * 1024

const context = new AsyncLocalStorage()

/** Wraps `stream.write` so that writes made inside an activation's context leave as tagged lines. */
function tagWrites(stream, name) {
  const write = stream.write.bind(stream)
  stream.write = (chunk, encoding, callback) => {
    const act = context.getStore()
    if (!act) return write(chunk, encoding, callback)
    let cb = callback
    let enc = encoding
    if (typeof enc === 'function') {
      cb = enc
      enc = undefined
    }
    const text =
      typeof chunk === 'string'
        ? enc && enc !== 'utf8' && enc !== 'utf-8'
          ? Buffer.from(chunk, enc).toString('utf8')
          : chunk
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8')
    const pending = act.partial[name] + text
    const nl = pending.lastIndexOf('\n')
    if (nl < 0 && pending.length <= MAX_PARTIAL) {
      act.partial[name] = pending
      if (cb) process.nextTick(cb)
      return true
    }
    const whole = nl < 0 ? pending : pending.slice(0, nl)
    act.partial[name] = nl < 0 ? '' : pending.slice(nl + 1)
    return write(tagLines(act.tag, whole), cb)
  }
  return write
}

function tagLines(tag, text) {
  return `${tag}${text.split('\n').join(`\n${tag}`)}\n`
}

/**
 * Reads of `process.env` inside an activation see its own __OW_* variables (its activation id,
 * deadline, api key), not those of whichever activation started last.
 */
function scopeEnv() {
  const real = process.env
  const own = (key) => {
    const act = context.getStore()
    return act !== undefined && typeof key === 'string' && Object.hasOwn(act.env, key) ? act : undefined
  }
  process.env = new Proxy(real, {
    get: (target, key) => {
      const act = own(key)
      return act ? act.env[key] : Reflect.get(target, key)
    },
    // Writes go to the real env (as without a proxy), whose setter takes plain values only.
    set: (target, key, value) => Reflect.set(target, key, value),
    has: (target, key) => own(key) !== undefined || Reflect.has(target, key),
    getOwnPropertyDescriptor: (target, key) => {
      const act = own(key)
      if (!act) return Reflect.getOwnPropertyDescriptor(target, key)
      return { value: act.env[key], writable: true, enumerable: true, configurable: true }
    },
  })
}

/** Switches the process to concurrent activations; returns `run`, which runs one in its context. */
function install() {
  const writes = { stdout: tagWrites(process.stdout, 'stdout'), stderr: tagWrites(process.stderr, 'stderr') }
  scopeEnv()
  return {
    /** Runs `work` as activation `id` with its own `env`. */
    run(id, env, work) {
      const act = { tag: `${TAG_START}${id}${TAG_END}`, env, partial: { stdout: '', stderr: '' } }
      return context.run(act, work)
    },
    /** Sends what the current activation wrote without a final newline, as a line of its own. */
    flush() {
      const act = context.getStore()
      if (!act) return
      for (const name of ['stdout', 'stderr']) {
        if (act.partial[name] === '') continue
        writes[name](tagLines(act.tag, act.partial[name]))
        act.partial[name] = ''
      }
    },
  }
}

module.exports = { install }
