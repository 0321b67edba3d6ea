// Loads and runs a user's action the way apache/openwhisk-runtime-nodejs does: CommonJS, sloppy mode.
// No 'use strict' in this file on purpose: an action may assign an undeclared global.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { extract } = require('./unzip.js')

const NAME = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/

/** "main" -> [undefined, "main"]; "lib/index.handler" -> ["lib/index", "handler"] (OpenWhisk's rule). */
function splitMain(main) {
  const m = /^([^.]+)$|^([^.]+)\.(.+)$/.exec(main)
  return m ? [m[2], m[3] || m[1]] : undefined
}

function lookup(obj, dotted) {
  return dotted.split('.').reduce((o, key) => (o == null ? undefined : o[key]), obj)
}

function assertFunction(handler, name) {
  if (typeof handler !== 'function') throw `Action entrypoint '${name}' is not a function.`
  return handler
}

/** Evaluates source text and returns its `main`, falling back to module.exports.main like OpenWhisk. */
function fromSource(code, main) {
  if (!NAME.test(main)) throw `Action entrypoint '${main}' is not a valid name.`
  const mod = { exports: {} }
  const body = `${code}\ntry { return ${main} } catch (e) {
    if (e.name === 'ReferenceError') return module.exports.${main} || exports.${main}
    throw e
  }`
  const factory = new Function('require', 'module', 'exports', '__filename', '__dirname', body)
  return assertFunction(factory(require, mod, mod.exports, '/action/index.js', '/action'), main)
}

/** Unzips a base64 zip under /tmp and requires its package.json main or index.js. */
function fromZip(base64, main) {
  const parts = splitMain(main)
  if (!parts) throw 'Name of main function is not valid.'
  const [index, fn] = parts
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'action-'))
  try {
    extract(Buffer.from(base64, 'base64'), dir)
  } catch (err) {
    throw `There was an error uncompressing the action archive: ${err.message}`
  }
  process.chdir(dir)
  const hasEntry = fs.existsSync(path.join(dir, 'package.json')) || fs.existsSync(path.join(dir, 'index.js'))
  if (index === undefined && !hasEntry) {
    throw 'Zipped actions must contain either package.json or index.js at the root.'
  }
  const mod = require(index === undefined ? dir : path.join(dir, index))
  return assertFunction(lookup(mod, fn), main)
}

/** Returns the action's entry function; throws (an Error or a message) when it cannot. */
function load(message) {
  return message.binary ? fromZip(message.code, message.main) : fromSource(message.code, message.main)
}

/** Serializes a rejection like serialize-error: an Error becomes {name, message, stack, ...own props}. */
function serializeError(err) {
  if (!(err instanceof Error)) return err
  const out = { name: err.name, message: err.message, stack: err.stack }
  for (const key of Object.keys(err)) out[key] = err[key]
  return out
}

/**
 * Calls the action: `{ ok: result }`, `{ thrown: err }` (a synchronous throw) or `{ rejected: err }`.
 * `undefined` (a bare `return`) becomes `{}`.
 */
async function run(handler, args) {
  let result
  try {
    result = handler(args)
  } catch (err) {
    return { thrown: err }
  }
  try {
    const value = await result
    return { ok: value === undefined ? {} : value }
  } catch (err) {
    return { rejected: err === undefined || err === null || err === '' ? {} : serializeError(err) }
  }
}

module.exports = { load, run }
