// A minimal zip reader (stored and deflated entries, no npm dependencies) for zipped actions.
const fs = require('node:fs')
const path = require('node:path')
const zlib = require('node:zlib')

const EOCD = 0x06054b50
const CENTRAL = 0x02014b50
const LOCAL = 0x04034b50

function findEndOfCentralDirectory(buf) {
  // The record is 22 bytes plus a comment of at most 65535 bytes, at the very end.
  const stop = Math.max(0, buf.length - 22 - 0xffff)
  for (let i = buf.length - 22; i >= stop; i--) {
    if (buf.readUInt32LE(i) === EOCD) return i
  }
  throw new Error('not a zip archive (no end of central directory record)')
}

/** Lists the entries of a zip held in `buf`: name, method, sizes, offset of the local header, mode. */
function entries(buf) {
  const eocd = findEndOfCentralDirectory(buf)
  const count = buf.readUInt16LE(eocd + 10)
  let p = buf.readUInt32LE(eocd + 16)
  const list = []
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== CENTRAL) throw new Error('corrupt zip central directory')
    const nameLen = buf.readUInt16LE(p + 28)
    const extraLen = buf.readUInt16LE(p + 30)
    const commentLen = buf.readUInt16LE(p + 32)
    list.push({
      method: buf.readUInt16LE(p + 10),
      compressedSize: buf.readUInt32LE(p + 20),
      size: buf.readUInt32LE(p + 24),
      mode: (buf.readUInt32LE(p + 38) >>> 16) & 0o777,
      offset: buf.readUInt32LE(p + 42),
      name: buf.toString('utf8', p + 46, p + 46 + nameLen),
    })
    p += 46 + nameLen + extraLen + commentLen
  }
  return list
}

function contents(buf, entry) {
  const p = entry.offset
  if (buf.readUInt32LE(p) !== LOCAL) throw new Error(`corrupt zip entry ${entry.name}`)
  const start = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28)
  const raw = buf.subarray(start, start + entry.compressedSize)
  if (entry.method === 0) return raw
  if (entry.method === 8) return zlib.inflateRawSync(raw)
  throw new Error(`unsupported zip compression method ${entry.method} for ${entry.name}`)
}

/** Extracts the zip in `buf` below `dir`; refuses entries that would land outside it. */
function extract(buf, dir) {
  const root = path.resolve(dir)
  for (const entry of entries(buf)) {
    const target = path.resolve(root, entry.name)
    if (target !== root && !target.startsWith(root + path.sep)) {
      throw new Error(`zip entry escapes the action directory: ${entry.name}`)
    }
    if (entry.name.endsWith('/')) {
      fs.mkdirSync(target, { recursive: true })
      continue
    }
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.writeFileSync(target, contents(buf, entry), { mode: entry.mode & 0o111 ? 0o755 : 0o644 })
  }
}

module.exports = { entries, extract }
