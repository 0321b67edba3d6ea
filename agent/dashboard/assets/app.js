// The fnagent dashboard: plain DOM and SVG, no framework; data from /dashboard/api/view (same
// origin, the browser's basic-auth credentials), refreshed every two seconds. Text from the
// cluster is only ever set as text, never parsed as HTML.
const SVG = 'http://www.w3.org/2000/svg'
const REFRESH_MS = 2000
const short = (id) => (id ? id.slice(-8) : '-')
let lastSeen = new Set()

function el(name, attrs = {}, text) {
  const e = name.startsWith('svg:')
    ? document.createElementNS(SVG, name.slice(4))
    : document.createElement(name)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  if (text !== undefined) e.textContent = String(text)
  return e
}

function layout(nodes, w, h) {
  const r = Math.min(w, h) / 2 - 80
  return nodes.map((n, i) => {
    const a = (2 * Math.PI * i) / nodes.length - Math.PI / 2
    return {
      ...n,
      x: w / 2 + (nodes.length === 1 ? 0 : r * Math.cos(a)),
      y: h / 2 + (nodes.length === 1 ? 0 : r * Math.sin(a)),
    }
  })
}

function drawCluster(view) {
  const svg = document.getElementById('cluster')
  svg.replaceChildren()
  const defs = el('svg:defs')
  const marker = el('svg:marker', {
    id: 'arrow',
    viewBox: '0 0 10 10',
    refX: 9,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto-start-reverse',
  })
  marker.append(el('svg:path', { d: 'M0,0 L10,5 L0,10 z', fill: '#2563eb' }))
  defs.append(marker)
  svg.append(defs)
  const placed = layout(view.nodes, 900, 420)
  const at = new Map(placed.map((n) => [n.nodeId, n]))
  // Invocation flow: forwarded activations, newest darkest.
  view.activations.forEach((a, i) => {
    const from = at.get(a.placement?.receivedBy)
    const to = at.get(a.node)
    if (!from || !to || from === to) return
    const dx = to.x - from.x
    const dy = to.y - from.y
    const len = Math.hypot(dx, dy) || 1
    const k = 48 / len
    const bend = (i % 5) * 6 - 12
    const mx = (from.x + to.x) / 2 - (dy / len) * (30 + bend)
    const my = (from.y + to.y) / 2 + (dx / len) * (30 + bend)
    svg.append(
      el('svg:path', {
        d: `M${from.x + dx * k},${from.y + dy * k} Q${mx},${my} ${to.x - dx * k},${to.y - dy * k}`,
        fill: 'none',
        stroke: '#2563eb',
        'stroke-width': 2,
        'stroke-opacity': Math.max(0.12, 1 - i / view.activations.length),
        'marker-end': 'url(#arrow)',
        'data-flow': `${a.placement.receivedBy}>${a.node}`,
      }),
    )
  })
  for (const n of placed) {
    const g = el('svg:g', { 'data-node': n.nodeId, class: `node ${n.state}` })
    const cap = n.capacity
    const slotsTotal = cap ? cap.freeSlots + n.inflight : 0
    const used = slotsTotal > 0 ? n.inflight / slotsTotal : 0
    const busy = cap ? Math.min(1, cap.load / 100) : 0
    const alive = n.state === 'alive'
    g.append(
      el('svg:circle', {
        cx: n.x,
        cy: n.y,
        r: 46,
        fill: alive ? '#e0e7ff' : '#f3f4f6',
        stroke: alive ? '#c7d2fe' : '#d1d5db',
        'stroke-width': 6,
      }),
    )
    // The load ring: an arc proportional to the CPU time busy.
    const circ = 2 * Math.PI * 46
    g.append(
      el('svg:circle', {
        cx: n.x,
        cy: n.y,
        r: 46,
        fill: 'none',
        stroke: busy > 0.8 ? '#dc2626' : '#2563eb',
        'stroke-width': 6,
        'stroke-dasharray': `${circ * busy} ${circ}`,
        transform: `rotate(-90 ${n.x} ${n.y})`,
      }),
    )
    g.append(el('svg:circle', { cx: n.x, cy: n.y, r: 40 * Math.sqrt(used), fill: '#93c5fd' }))
    g.append(
      el(
        'svg:text',
        { x: n.x, y: n.y - 2, class: 'node-label' },
        `${short(n.nodeId)}${n.nodeId === view.self ? ' ★' : ''}`,
      ),
    )
    g.append(el('svg:text', { x: n.x, y: n.y + 14, class: 'node-sub' }, n.state))
    const warm = (n.warmFunctions ?? []).slice(0, 3).join(', ')
    const loadText = cap
      ? `CPU ${Math.round(cap.load)}% of ${cap.cpus} · ${cap.freeSlots} free slots`
      : `${n.inflight} in flight`
    // Labels on the outer side of the node, away from the arrows between nodes.
    const above = placed.length > 1 && n.y < 210
    g.append(el('svg:text', { x: n.x, y: above ? n.y - 72 : n.y + 66, class: 'node-sub' }, loadText))
    g.append(
      el(
        'svg:text',
        { x: n.x, y: above ? n.y - 58 : n.y + 80, class: 'node-sub' },
        warm ? `warm: ${warm}` : 'no warm functions',
      ),
    )
    svg.append(g)
  }
}

function drawFunctions(view) {
  const svg = document.getElementById('functions')
  svg.replaceChildren()
  const per = new Map()
  for (const n of view.nodes)
    for (const f of n.stats?.slowest ?? []) {
      const t = per.get(f.fn) ?? { count: 0, errors: 0, total: 0 }
      t.count += f.count
      t.errors += f.errors
      t.total += f.meanMs * f.count
      per.set(f.fn, t)
    }
  const rows = [...per.entries()]
    .map(([fn, t]) => ({ fn, mean: t.total / t.count, count: t.count, errors: t.errors }))
    .sort((a, b) => b.mean - a.mean)
    .slice(0, 10)
  if (rows.length === 0) {
    svg.append(el('svg:text', { x: 10, y: 24, class: 'bar-label' }, 'no activations yet'))
    return
  }
  const max = Math.max(...rows.map((r) => r.mean), 1)
  rows.forEach((r, i) => {
    const y = 10 + i * 24
    const g = el('svg:g', { 'data-fn': r.fn })
    g.append(
      el(
        'svg:text',
        { x: 0, y: y + 13, class: 'bar-label' },
        r.fn.length > 22 ? `${r.fn.slice(0, 21)}…` : r.fn,
      ),
    )
    const w = Math.max(2, (r.mean / max) * 130)
    g.append(el('svg:rect', { x: 150, y, width: w, height: 16, fill: '#60a5fa' }))
    const errW = r.count ? (r.errors / r.count) * w : 0
    if (errW > 0) g.append(el('svg:rect', { x: 150, y, width: errW, height: 16, fill: '#f87171' }))
    g.append(
      el(
        'svg:text',
        { x: 156 + w, y: y + 13, class: 'bar-label' },
        `${r.mean.toFixed(1)} ms · ${r.count}${r.errors ? ` · ${r.errors} err` : ''}`,
      ),
    )
    svg.append(g)
  })
}

function cell(text, cls) {
  return el('td', cls ? { class: cls } : {}, text)
}

function drawNodes(view) {
  const body = document.querySelector('#nodes tbody')
  body.replaceChildren(
    ...view.nodes.map((n) => {
      const tr = el('tr', { 'data-node-row': n.nodeId })
      tr.append(
        cell(`${short(n.nodeId)}${n.nodeId === view.self ? ' ★' : ''}`, 'mono'),
        cell(n.state, n.state === 'alive' ? 'ok' : 'bad'),
        cell(n.capacity ? `${Math.round(n.capacity.load)}%` : '-', 'num'),
        cell(n.inflight, 'num'),
        cell(n.capacity ? n.capacity.freeSlots : '-', 'num'),
        cell(n.warm, 'num'),
        cell(n.stats ? n.stats.activations : '-', 'num'),
        cell(n.stats ? n.stats.errors : '-', 'num'),
      )
      return tr
    }),
  )
}

function drawRecent(view) {
  const body = document.querySelector('#recent tbody')
  const seen = new Set()
  body.replaceChildren(
    ...view.activations.map((a) => {
      seen.add(a.activationId)
      const tr = el('tr', {
        'data-activation': a.activationId,
        class: lastSeen.has(a.activationId) ? '' : 'fresh',
      })
      const p = a.placement
      const why = p
        ? `${p.reason} (score ${p.score}, attempt ${p.attempt}${p.runnerUp ? `, runner-up ${short(p.runnerUp.node)}` : ''})`
        : '-'
      tr.append(
        cell(new Date(a.start).toLocaleTimeString()),
        cell(a.fn),
        cell(a.activationId, 'mono'),
        cell(short(a.node), 'mono'),
        cell(p ? short(p.receivedBy) : '-', 'mono'),
        cell(why),
        cell(a.startKind ?? '-'),
        cell(a.duration, 'num'),
        cell(a.status, a.status === 'success' ? 'ok' : 'bad'),
      )
      return tr
    }),
  )
  lastSeen = seen
}

// The queue of every node: jobs waiting per asked priority, running, in backoff, dead-lettered.
function drawQueue(view) {
  const body = document.querySelector('#queue tbody')
  body.replaceChildren(
    ...view.nodes.map((n) => {
      const q = n.stats?.queue
      const tr = el('tr', { 'data-queue-node': n.nodeId })
      tr.append(cell(`${short(n.nodeId)}${n.nodeId === view.self ? ' ★' : ''}`, 'mono'))
      for (const p of [0, 1, 2]) tr.append(cell(q ? (q.waiting[p] ?? 0) : '-', 'num'))
      tr.append(
        cell(q ? q.running : '-', 'num'),
        cell(q ? q.delayed : '-', 'num'),
        cell(q ? q.deadLetters : '-', q?.deadLetters ? 'num bad' : 'num'),
      )
      return tr
    }),
  )
  const dead = document.querySelector('#dead tbody')
  dead.replaceChildren(
    ...(view.deadLetters ?? []).map((a) => {
      const tr = el('tr', { 'data-dead': a.activationId })
      tr.append(
        cell(new Date(a.start).toLocaleTimeString()),
        cell(a.fn),
        cell(short(a.activationId), 'mono'),
        cell(short(a.node), 'mono'),
        cell(a.status, 'bad'),
      )
      return tr
    }),
  )
}

// Every node's recent trigger fires, merged newest first.
function drawFires(view) {
  const fires = view.nodes
    .flatMap((n) => (n.stats?.fires ?? []).map((f) => ({ ...f, node: n.nodeId })))
    .sort((a, b) => b.at - a.at)
    .slice(0, 20)
  document.querySelector('#fires tbody').replaceChildren(
    ...fires.map((f) => {
      const tr = el('tr', { 'data-fire': f.activationId ?? '', 'data-trigger': f.trigger })
      tr.append(
        cell(new Date(f.at).toLocaleTimeString()),
        cell(f.trigger),
        cell(short(f.node), 'mono'),
        cell(f.started, 'num'),
        cell(f.failed, f.failed ? 'num bad' : 'num'),
        cell(f.activationId ? short(f.activationId) : 'no active rule', 'mono'),
      )
      return tr
    }),
  )
}

async function refresh() {
  try {
    const res = await fetch('/dashboard/api/view', { cache: 'no-store' })
    if (!res.ok) throw new Error(`the agent answered ${res.status}`)
    const view = await res.json()
    const alive = view.nodes.filter((n) => n.state === 'alive').length
    document.getElementById('summary').textContent =
      `${alive} of ${view.nodes.length} nodes alive · served by ${short(view.self)}`
    document.getElementById('updated').textContent = `updated ${new Date(view.at).toLocaleTimeString()}`
    drawCluster(view)
    drawFunctions(view)
    drawNodes(view)
    drawRecent(view)
    drawQueue(view)
    drawFires(view)
    document.body.dataset.loaded = String(view.at)
  } catch (err) {
    document.getElementById('summary').textContent = `cannot load the cluster view: ${err.message}`
  } finally {
    setTimeout(refresh, REFRESH_MS)
  }
}

refresh()
