import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian'

interface Source {
  uri: string
  suites: string[]
}

/** Parses one-line (`deb [opts] URI suite comp...`) and deb822 (`URIs:`/`Suites:`) apt sources. */
export function parseSources(text: string): Source[] {
  const out: Source[] = []
  for (const line of text.split('\n')) {
    const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line)
    if (m) out.push({ uri: m[1]!, suites: [m[2]!] })
  }
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) =>
      new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? []
    if (!field('Types').includes('deb')) continue
    const suites = field('Suites')
    for (const uri of field('URIs')) out.push({ uri, suites })
  }
  return out
}

async function readSources(): Promise<Source[]> {
  const files = ['/etc/apt/sources.list']
  try {
    for (const f of await readdir('/etc/apt/sources.list.d')) {
      if (f.endsWith('.list') || f.endsWith('.sources')) files.push(join('/etc/apt/sources.list.d', f))
    }
  } catch {}
  const sources: Source[] = []
  for (const f of files) {
    try {
      sources.push(...parseSources(await readFile(f, 'utf8')))
    } catch {}
  }
  return sources
}

/**
 * The Debian mirror debootstrap fetches from: `$FNAGENT_DEBIAN_MIRROR`, else the apt source of this
 * host that serves `suite`, else any Debian (not security) source, else deb.debian.org.
 */
export async function debianMirror(suite: string): Promise<string> {
  if (process.env.FNAGENT_DEBIAN_MIRROR) return process.env.FNAGENT_DEBIAN_MIRROR
  const debian = (await readSources()).filter(
    (s) => /^(https?|file):/.test(s.uri) && /\/debian\/?$/.test(s.uri) && !/security/.test(s.uri),
  )
  const best = debian.find((s) => s.suites.includes(suite)) ?? debian[0]
  return best?.uri.replace(/\/$/, '') ?? DEFAULT_MIRROR
}
