import { readFileSync } from 'node:fs'
import type { Reply } from '../api/openwhisk/components.ts'
import { errors } from '../errors.ts'

export { type DashboardOptions, dashboardOptionsSchema } from './options.ts'
export {
  type DashboardActivation,
  type DashboardSources,
  type DashboardView,
  dashboardActivation,
  dashboardView,
} from './view.ts'

/** The page's files, shipped in the package (no CDN): name → content type. */
const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
}

/** Serves `/dashboard` (the page), its assets and `/dashboard/api/view` (the data, JSON). */
export class Dashboard {
  readonly #files = new Map<string, Buffer>()
  readonly #view: () => Promise<unknown>

  constructor(view: () => Promise<unknown>) {
    this.#view = view
    for (const name of Object.keys(ASSETS))
      this.#files.set(name, readFileSync(new URL(`./assets/${name}`, import.meta.url)))
  }

  /** The answer to an authenticated GET of `path` (`/dashboard` or below it). */
  async reply(path: string): Promise<Reply> {
    if (path === '/dashboard/api/view')
      return { status: 200, body: await this.#view(), headers: { 'cache-control': 'no-store' } }
    const name = path === '/dashboard' ? 'index.html' : path.slice('/dashboard/'.length)
    const file = this.#files.get(name)
    if (!file) throw errors.routeNotFound(`no dashboard file ${name}`)
    return {
      status: 200,
      body: file,
      headers: {
        'content-type': ASSETS[name]!,
        'cache-control': 'no-cache',
        // The page loads only its own files and data.
        'content-security-policy':
          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
        'x-content-type-options': 'nosniff',
      },
    }
  }
}
