import type { Command } from 'commander'
import type { TopNode } from '../../agent/metrics/index.ts'
import { clientFor, positiveInt } from '../context.ts'

interface TopView {
  at: number
  nodes: TopNode[]
}

/** `fnagent top`: the cluster, live, refreshed every second (q or Ctrl-C quits). */
export function registerTopCommand(program: Command): void {
  program
    .command('top')
    .description(
      'a live view of every node: load, slots, warm containers, invocations/s, errors, slowest functions',
    )
    .option('--interval <ms>', 'refresh period (default 1000)', positiveInt('--interval'))
    .option('--once', 'print one frame and exit (no screen control)')
    .action(async (o: { interval?: number; once?: boolean }, cmd: Command) => {
      const client = clientFor(cmd)
      const out = process.stdout
      const size = () => ({ cols: out.columns || 80, rows: out.rows || 24 })
      if (o.once) {
        const view = await client.get<TopView>('/v1/top')
        out.write(`${renderTop(view, null, size().cols, size().rows).join('\n')}\n`)
        return
      }
      let prev: TopView | null = null
      let stopped = false
      const stop = () => {
        stopped = true
      }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      const input = process.stdin
      if (input.isTTY) {
        input.setRawMode(true)
        input.resume()
        input.on('data', (d: Buffer) => {
          const k = d.toString()
          if (k === 'q' || k === '\u0003') stop()
        })
      }
      out.write('\x1b[?25l')
      try {
        while (!stopped) {
          const view = await client.get<TopView>('/v1/top')
          const { cols, rows } = size()
          out.write(`\x1b[H\x1b[2J${renderTop(view, prev, cols, rows).join('\r\n')}`)
          prev = view
          const until = Date.now() + (o.interval ?? 1000)
          while (!stopped && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
        }
      } finally {
        out.write('\x1b[?25h\r\n')
        if (input.isTTY) {
          input.setRawMode(false)
          input.pause()
        }
      }
    })
}

const short = (id: string) => id.slice(-8)

function clip(line: string, cols: number): string {
  return line.length > cols ? `${line.slice(0, cols - 1)}…` : line
}

/** One frame: at most `rows` lines of at most `cols` characters. */
export function renderTop(view: TopView, prev: TopView | null, cols: number, rows: number): string[] {
  const before = new Map(prev?.nodes.map((n) => [n.nodeId, n]) ?? [])
  const secs = prev ? Math.max(0.001, (view.at - prev.at) / 1000) : 0
  const alive = view.nodes.filter((n) => n.state === 'alive').length
  const time = new Date(view.at).toISOString().slice(11, 19)
  const lines: string[] = [
    `fnagent top  ${alive}/${view.nodes.length} nodes alive  ${time} UTC   q: quit`,
    '',
    [
      'NODE'.padEnd(9),
      'STATE'.padEnd(7),
      ' LOAD',
      'CPUS',
      ' INFL',
      'SLOTS',
      ' WARM',
      ' INV/S',
      '  ERR/S',
      '     RAN',
      ' ERRORS',
    ].join(' '),
  ]
  let totalRate = 0
  const rowsForNodes = Math.max(1, rows - lines.length - 6)
  const nodes = [...view.nodes].sort(
    (a, b) => Number(b.self) - Number(a.self) || a.nodeId.localeCompare(b.nodeId),
  )
  for (const n of nodes.slice(0, rowsForNodes)) {
    const p = before.get(n.nodeId)?.stats
    const s = n.stats
    const rate = s && p && secs ? (s.activations - p.activations) / secs : null
    const errRate = s && p && secs ? (s.errors - p.errors) / secs : null
    totalRate += rate ?? 0
    const num = (v: number | null | undefined, w: number, d = 0) =>
      (v == null ? '-' : v.toFixed(d)).padStart(w)
    lines.push(
      [
        `${short(n.nodeId)}${n.self ? '*' : ' '}`,
        n.state.padEnd(7),
        num(n.capacity?.load, 5),
        num(n.capacity?.cpus, 4),
        num(n.inflight, 5),
        num(n.capacity?.freeSlots, 5),
        num(n.warm, 5),
        num(rate, 6, 1),
        num(errRate, 7, 1),
        num(s?.activations, 8),
        num(s?.errors, 7),
      ].join(' '),
    )
  }
  if (nodes.length > rowsForNodes) lines.push(`… ${nodes.length - rowsForNodes} more nodes`)
  lines.push(
    '',
    `cluster: ${totalRate.toFixed(1)} invocations/s`,
    'SLOWEST FUNCTIONS (mean run ms, every node)',
  )
  const perFn = new Map<string, { count: number; errors: number; totalMs: number; maxMs: number }>()
  for (const n of view.nodes)
    for (const f of n.stats?.slowest ?? []) {
      const t = perFn.get(f.fn) ?? { count: 0, errors: 0, totalMs: 0, maxMs: 0 }
      t.count += f.count
      t.errors += f.errors
      t.totalMs += f.meanMs * f.count
      t.maxMs = Math.max(t.maxMs, f.maxMs)
      perFn.set(f.fn, t)
    }
  const slow = [...perFn.entries()].sort((a, b) => b[1].totalMs / b[1].count - a[1].totalMs / a[1].count)
  for (const [fn, t] of slow.slice(0, Math.max(0, rows - lines.length))) {
    const mean = (t.totalMs / t.count).toFixed(1).padStart(9)
    lines.push(
      `${fn.slice(0, 40).padEnd(40)} ${String(t.count).padStart(7)} calls ${String(t.errors).padStart(5)} err ${mean}`,
    )
  }
  return lines.slice(0, rows).map((l) => clip(l, cols))
}
