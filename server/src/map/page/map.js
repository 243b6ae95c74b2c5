'use strict'
// Tessera's live cluster map: tiles, region owners and players on one canvas.
// x grows to the right (east), z downwards (south). Live updates come from
// /map/events (server-sent events); without them it polls every 2 s.
;(function () {
  const PALETTE = ['#4e9af1', '#f1884e', '#5ccf7a', '#e25b8c', '#b38cf0', '#e8c64a', '#4fd1d9', '#a4d65e', '#f07a6a', '#8fa3bf']
  const MIN_SCALE = 1 / 16
  const MAX_SCALE = 32
  const STATES = { alive: 'up', suspect: 'suspect', down: 'down' }
  const $ = (id) => document.getElementById(id)
  const canvas = $('map')
  const ctx = canvas.getContext('2d')
  const tip = $('tip')

  let S = { node: null, region_chunks: 1, nodes: [], regions: [], players: [] }
  let conn = 'connecting'
  const view = { cx: 0, cz: 0, scale: 4, touched: false, centred: false }
  const tiles = new Map() // "x,z" -> { img, version, ok, want }
  let regionIndex = new Map() // "x,z" -> region
  let nodeIndex = new Map() // id -> node
  let drawnPlayers = []
  let drawnTiles = []
  let mouse = null // { x, y } in CSS pixels while over the canvas
  let W = 0
  let H = 0

  function nodeColor (id) {
    const n = PALETTE.length
    return PALETTE[(((Number(id) - 1) % n) + n) % n]
  }
  function alpha (hex, a) {
    const v = parseInt(hex.slice(1), 16)
    return `rgba(${v >> 16},${(v >> 8) & 255},${v & 255},${a})`
  }
  const span = () => S.region_chunks * 16
  const ms = (v) => (v === null || v === undefined ? '–' : (v < 10 ? v.toFixed(2) : v.toFixed(1)))
  const toScreen = (bx, bz) => [(bx - view.cx) * view.scale + W / 2, (bz - view.cz) * view.scale + H / 2]
  const toWorld = (sx, sy) => [(sx - W / 2) / view.scale + view.cx, (sy - H / 2) / view.scale + view.cz]

  // ---- state --------------------------------------------------------------
  function apply (next) {
    S = {
      node: next.node,
      region_chunks: next.region_chunks || 1,
      nodes: next.nodes || [],
      regions: next.regions || [],
      players: next.players || []
    }
    regionIndex = new Map(S.regions.map((r) => [r.x + ',' + r.z, r]))
    nodeIndex = new Map(S.nodes.map((n) => [n.id, n]))
    for (const key of tiles.keys()) if (!regionIndex.has(key)) tiles.delete(key)
    if (!view.touched && !view.centred) {
      if (S.players.length) { centreOnPlayers(); view.centred = true } else { view.cx = 0; view.cz = 0 }
    }
    legend()
    schedule()
  }

  function centreOnPlayers () {
    const ps = S.players
    if (!ps.length) { view.cx = 0; view.cz = 0; return }
    const xs = ps.map((p) => p.x)
    const zs = ps.map((p) => p.z)
    view.cx = (Math.min(...xs) + Math.max(...xs)) / 2
    view.cz = (Math.min(...zs) + Math.max(...zs)) / 2
    const w = Math.max(...xs) - Math.min(...xs) + 64
    const h = Math.max(...zs) - Math.min(...zs) + 64
    view.scale = clampScale(Math.min(4, (W - 300) / w, (H - 40) / h))
  }

  // Fetch the tiles of regions in view whose version changed.
  function loadTiles (x0, z0, x1, z1) {
    for (const r of S.regions) {
      if (r.version === null || r.version === undefined) continue
      if (r.x < x0 || r.x > x1 || r.z < z0 || r.z > z1) continue
      const key = r.x + ',' + r.z
      let t = tiles.get(key)
      if (t && (t.want === r.version || Date.now() - t.failed < 5000)) continue
      if (!t) { t = { img: null, version: null, ok: false, want: null, failed: 0 }; tiles.set(key, t) }
      t.want = r.version
      const img = new Image()
      const v = r.version
      img.onload = () => {
        if (tiles.get(key) !== t || t.want !== v) return
        t.img = img; t.version = v; t.ok = true
        schedule()
      }
      img.onerror = () => { if (tiles.get(key) === t && t.want === v) { t.want = null; t.failed = Date.now() } }
      img.src = `/map/tile/${r.x}/${r.z}.png?v=${encodeURIComponent(v)}`
    }
  }

  // ---- drawing ------------------------------------------------------------
  let pending = false
  function schedule () {
    if (pending) return
    pending = true
    const run = () => { pending = false; draw() }
    if (document.visibilityState === 'hidden') setTimeout(run, 200)
    else requestAnimationFrame(run)
  }

  function resize () {
    const dpr = window.devicePixelRatio || 1
    W = window.innerWidth
    H = window.innerHeight
    canvas.width = Math.round(W * dpr)
    canvas.height = Math.round(H * dpr)
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
    schedule()
  }

  function draw () {
    ctx.fillStyle = '#14171c'
    ctx.fillRect(0, 0, W, H)
    const size = span()
    const px = size * view.scale
    const [wx0, wz0] = toWorld(0, 0)
    const [wx1, wz1] = toWorld(W, H)
    const rx0 = Math.floor(wx0 / size) - 1
    const rz0 = Math.floor(wz0 / size) - 1
    const rx1 = Math.floor(wx1 / size) + 1
    const rz1 = Math.floor(wz1 / size) + 1
    loadTiles(rx0, rz0, rx1, rz1)

    // tiles, at block scale
    ctx.imageSmoothingEnabled = view.scale < 1
    drawnTiles = []
    for (const [key, t] of tiles) {
      if (!t.ok) continue
      const [x, z] = key.split(',').map(Number)
      if (x < rx0 || x > rx1 || z < rz0 || z > rz1) continue
      const [sx, sy] = toScreen(x * size, z * size)
      ctx.drawImage(t.img, sx, sy, px, px)
      drawnTiles.push(key)
    }

    // region borders in the owner's colour
    const owners = []
    const stroke = px >= 3
    for (const r of S.regions) {
      const c = nodeColor(r.node)
      const [sx, sy] = toScreen(r.x * size, r.z * size)
      owners.push(`${r.x},${r.z}=${r.node}`)
      if (sx > W || sy > H || sx + px < 0 || sy + px < 0) continue
      const n = nodeIndex.get(r.node)
      const alive = !n || n.state === 'alive'
      ctx.fillStyle = alpha(c, alive ? 0.16 : 0.07)
      ctx.fillRect(sx, sy, px, px)
      if (stroke) {
        ctx.strokeStyle = alpha(c, alive ? (px < 24 ? 0.55 : 0.85) : 0.45)
        ctx.lineWidth = 1
        ctx.setLineDash(alive ? [] : [4, 3])
        ctx.strokeRect(Math.round(sx) + 0.5, Math.round(sy) + 0.5, Math.max(0, Math.round(px) - 1), Math.max(0, Math.round(px) - 1))
      }
    }
    ctx.setLineDash([])

    // hovered region
    const hover = hovered()
    if (hover) {
      const [sx, sy] = toScreen(hover.x * size, hover.z * size)
      ctx.strokeStyle = '#ffffff'
      ctx.lineWidth = 2
      ctx.strokeRect(sx + 1, sy + 1, px - 2, px - 2)
    }

    // players: a dot in their node's colour, with their name
    drawnPlayers = []
    ctx.font = '600 12px system-ui, sans-serif'
    ctx.textBaseline = 'middle'
    for (const p of S.players) {
      const [sx, sy] = toScreen(p.x, p.z)
      ctx.beginPath()
      ctx.arc(sx, sy, 5, 0, Math.PI * 2)
      ctx.fillStyle = nodeColor(p.node)
      ctx.fill()
      ctx.lineWidth = 2
      ctx.strokeStyle = '#ffffff'
      ctx.stroke()
      ctx.lineWidth = 3
      ctx.strokeStyle = 'rgba(10,12,16,.85)'
      ctx.strokeText(p.name, sx + 9, sy)
      ctx.fillStyle = '#ffffff'
      ctx.fillText(p.name, sx + 9, sy)
      drawnPlayers.push(p.name)
    }

    document.body.dataset.players = [...drawnPlayers].sort().join(',')
    document.body.dataset.owners = owners.join(';')
    document.body.dataset.connection = conn
    tooltip(hover)
  }

  // ---- hover, legend --------------------------------------------------------
  function hovered () {
    if (!mouse || drag) return null
    const [bx, bz] = toWorld(mouse.x, mouse.y)
    const size = span()
    return regionIndex.get(Math.floor(bx / size) + ',' + Math.floor(bz / size)) || null
  }

  function row (label, value) {
    const d = document.createElement('div')
    d.className = 'row'
    const a = document.createElement('span')
    a.className = 'muted'
    a.textContent = label
    const b = document.createElement('span')
    b.textContent = value
    d.append(a, b)
    return d
  }

  function tooltip (r) {
    if (mouse) {
      const [bx, bz] = toWorld(mouse.x, mouse.y)
      $('coords').textContent = `x ${Math.floor(bx)}  z ${Math.floor(bz)}  ·  ${view.scale >= 1 ? view.scale.toFixed(0) + ' px/block' : '1:' + (1 / view.scale).toFixed(0)}`
    }
    if (!r) { tip.hidden = true; return }
    const head = document.createElement('div')
    const b = document.createElement('b')
    b.textContent = `r.${r.x}.${r.z}`
    head.append(b)
    tip.replaceChildren(head,
      row('owner', `node ${r.node}`),
      row('epoch', String(r.epoch)),
      row('players', String(r.players ?? 0)),
      row('tick p50 / p99', `${ms(r.tick_p50_ms)} / ${ms(r.tick_p99_ms)} ms`))
    const sw = document.createElement('span')
    sw.className = 'sw'
    sw.style.background = nodeColor(r.node)
    sw.style.marginLeft = '8px'
    head.append(sw)
    tip.hidden = false
    const tw = tip.offsetWidth
    const th = tip.offsetHeight
    tip.style.left = Math.min(mouse.x + 14, W - tw - 4) + 'px'
    tip.style.top = Math.min(mouse.y + 14, H - th - 4) + 'px'
  }

  function cell (tr, text, cls) {
    const td = document.createElement('td')
    if (cls) td.className = cls
    if (text instanceof Node) td.append(text); else td.textContent = text
    tr.append(td)
  }

  function swatch (id) {
    const s = document.createElement('span')
    s.className = 'sw'
    s.style.background = nodeColor(id)
    return s
  }

  function legend () {
    $('answer').textContent = `answered by node ${S.node ?? '–'}`
    const body = $('nodes').tBodies[0]
    body.replaceChildren(...[...S.nodes].sort((a, b) => a.id - b.id).map((n) => {
      const tr = document.createElement('tr')
      if (n.id === S.node) tr.className = 'self'
      tr.title = n.addr || ''
      const st = STATES[n.state] || n.state
      cell(tr, swatch(n.id))
      cell(tr, `node ${n.id}`)
      cell(tr, st, 'st-' + st)
      cell(tr, String(n.players ?? 0), 'num')
      cell(tr, String(n.regions ?? 0), 'num')
      return tr
    }))
    const list = $('players')
    $('pcount').textContent = S.players.length ? `(${S.players.length})` : ''
    const sorted = [...S.players].sort((a, b) => a.name.localeCompare(b.name))
    list.replaceChildren(...sorted.map((p) => {
      const li = document.createElement('li')
      const name = document.createElement('span')
      name.textContent = p.name
      const pos = document.createElement('span')
      pos.className = 'pos muted'
      pos.textContent = `${Math.floor(p.x)}, ${Math.floor(p.z)}`
      li.title = `node ${p.node}`
      li.append(swatch(p.node), name, pos)
      li.onclick = () => { view.cx = p.x; view.cz = p.z; view.touched = true; schedule() }
      return li
    }))
    if (!sorted.length) {
      const li = document.createElement('li')
      li.className = 'muted empty'
      li.textContent = 'nobody online'
      list.append(li)
    }
  }

  function setConn (c) {
    conn = c
    const el = $('conn')
    el.textContent = c
    el.className = 'conn ' + c
    document.body.dataset.connection = c
  }

  // ---- pan and zoom -----------------------------------------------------------
  const clampScale = (s) => Math.min(MAX_SCALE, Math.max(MIN_SCALE, s))
  function zoomAt (factor, sx, sy) {
    const [bx, bz] = toWorld(sx, sy)
    view.scale = clampScale(view.scale * factor)
    view.cx = bx - (sx - W / 2) / view.scale
    view.cz = bz - (sy - H / 2) / view.scale
    view.touched = true
    schedule()
  }

  let drag = null
  canvas.addEventListener('pointerdown', (e) => {
    drag = { x: e.clientX, y: e.clientY, cx: view.cx, cz: view.cz }
    canvas.setPointerCapture(e.pointerId)
    canvas.classList.add('dragging')
  })
  canvas.addEventListener('pointermove', (e) => {
    mouse = { x: e.clientX, y: e.clientY }
    if (drag) {
      view.cx = drag.cx - (e.clientX - drag.x) / view.scale
      view.cz = drag.cz - (e.clientY - drag.y) / view.scale
      view.touched = true
    }
    schedule()
  })
  const endDrag = () => { drag = null; canvas.classList.remove('dragging'); schedule() }
  canvas.addEventListener('pointerup', endDrag)
  canvas.addEventListener('pointercancel', endDrag)
  canvas.addEventListener('pointerleave', () => { if (!drag) { mouse = null; schedule() } })
  canvas.addEventListener('wheel', (e) => {
    e.preventDefault()
    zoomAt(Math.pow(2, -e.deltaY / (e.deltaMode === 1 ? 8 : 240)), e.clientX, e.clientY)
  }, { passive: false })
  $('zin').onclick = () => zoomAt(2, W / 2, H / 2)
  $('zout').onclick = () => zoomAt(0.5, W / 2, H / 2)
  $('home').onclick = () => { centreOnPlayers(); schedule() }
  window.addEventListener('resize', resize)
  window.addEventListener('keydown', (e) => {
    if (e.key === '+' || e.key === '=') zoomAt(2, W / 2, H / 2)
    else if (e.key === '-') zoomAt(0.5, W / 2, H / 2)
  })

  // ---- updates: server-sent events, else polling ---------------------------------
  let es = null
  let pollTimer = null
  let watchdog = null
  let lastEvent = 0

  function live () {
    if (!window.EventSource) return poll()
    try { es = new EventSource('/map/events') } catch (_) { return poll() }
    const onState = (e) => {
      let data
      try { data = JSON.parse(e.data) } catch (_) { return }
      lastEvent = Date.now()
      stopPolling()
      setConn('live')
      apply(data)
    }
    es.addEventListener('state', onState)
    es.onmessage = onState
    es.onerror = () => fallBack()
    clearInterval(watchdog)
    // No event for 5 s counts as a failure too (a buffering proxy, a stuck stream).
    const opened = Date.now()
    watchdog = setInterval(() => { if (Date.now() - Math.max(lastEvent, opened) > 5000) fallBack() }, 1000)
  }

  function fallBack () {
    clearInterval(watchdog)
    if (es) { es.close(); es = null }
    if (!pollTimer) poll()
  }

  function stopPolling () {
    clearTimeout(pollTimer)
    pollTimer = null
  }

  let polls = 0
  async function poll () {
    try {
      const [regions, players] = await Promise.all(['/map/regions', '/map/players'].map(async (u) => {
        const r = await fetch(u, { cache: 'no-store' })
        if (!r.ok) throw new Error(u + ': ' + r.status)
        return r.json()
      }))
      if (es && conn === 'live') return
      setConn('polling')
      apply({ ...regions, players: players.players })
    } catch (_) {
      setConn('disconnected')
    }
    // Try the live stream again now and then.
    if (++polls % 8 === 0 && !es) live()
    if (!es || conn !== 'live') pollTimer = setTimeout(poll, 2000)
  }

  window.tesseraMap = {
    get state () { return S },
    get connection () { return conn },
    get view () { return { ...view } },
    regionColor (x, z) {
      const r = regionIndex.get(x + ',' + z)
      return r ? nodeColor(r.node) : null
    },
    nodeColor,
    playersDrawn: () => [...drawnPlayers],
    tilesLoaded: () => [...drawnTiles]
  }

  resize()
  legend()
  live()
})()
