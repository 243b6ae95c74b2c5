'use strict'
// Measures what a cross-node handoff adds over a same-node one. Two real
// tessera nodes form a cluster (16-block regions); a raw client walks back
// and forth across one border whose two regions are on the same node and
// one whose regions are on different nodes, while a second raw client
// standing near each border records when it sees every position the walker
// sent. Both clients connect to node 1 and share this process's clock.
//
// Per move: latency = when the watcher sees the position - when the walker
// sent it. A move is "steady" more than 3 blocks from the border; "crossing"
// is the first one in the new region (the old region still shows it, then
// hands the player off); "next" is the one after it, the first the adopter
// must show: it goes to the old region, which forwards it, unless the
// session already learnt its new owner; "after" are the 4 moves after that.
// Moves go out every 35-65 ms, so they fall on every phase of the 50 ms
// region ticks. "added" is next p50 - steady p50: what the handoff adds to
// the first update the adopter accepts. Prints a table and one JSON line.
//   TESSERA_BIN=target/release/tessera node tests/measure/handoff_latency.js [passes]
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const h = require('../e2e/harness')

const SECRET = 'measure-handoff-secret-0123456789'
const REGION = 16
const STEP = 0.3
const MOVE_MS = [35, 65]
const SPAN = 6
const PASSES = Number(process.argv[2] || 30)
const CLASSES = ['steady', 'crossing', 'next', 'after']

function pct (values, p) {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

// The `regions` console command as "x,z" -> node id.
async function regions (server) {
  const out = await server.command('regions', /(\d+) regions placed[^\n]*\n?((?:r\.-?\d+\.-?\d+ -> node \d+ \(epoch \d+\)\n?)*)/, { timeout: 5000 })
  const map = new Map()
  for (const m of out[0].matchAll(/r\.(-?\d+)\.(-?\d+) -> node (\d+)/g)) map.set(`${m[1]},${m[2]}`, Number(m[3]))
  return map
}

// A raw client that confirms the server's teleports and reports its position.
async function player (server, name) {
  // Listening from the start: the first position may come with Join Game.
  const client = await h.rawClient(server, name, {
    onCreate: (c) => {
      c.pos = null
      c.once('login', (p) => { c.entityId = p.entityId })
      c.on('position', (p) => {
        c.pos = { x: p.x, y: p.y, z: p.z }
        c.write('teleport_confirm', { teleportId: p.teleportId })
      })
    }
  })
  await h.waitFor(() => client.pos, { timeout: 15000, message: `${name} to be placed` })
  return client
}

// Follows one entity's position from the packets a watcher receives.
function follow (watcher, entityId, onSeen) {
  let at = null
  const seen = () => onSeen({ x: at.x, z: at.z }, performance.now())
  watcher.on('named_entity_spawn', (p) => { if (p.entityId === entityId) { at = { x: p.x, z: p.z }; seen() } })
  watcher.on('entity_teleport', (p) => { if (p.entityId === entityId) { at = { x: p.x, z: p.z }; seen() } })
  const rel = (p) => {
    if (p.entityId !== entityId || !at) return
    at = { x: at.x + p.dX / 4096, z: at.z + p.dZ / 4096 }
    seen()
  }
  watcher.on('rel_entity_move', rel)
  watcher.on('entity_move_look', rel)
}

// Sends positions at most a step apart toward (x, z), one per MOVE_MS.
async function walkTo (walker, x, z, record) {
  const pos = walker.pos
  const toward = (from, to) => Math.round((from + Math.max(-STEP, Math.min(STEP, to - from))) * 4096) / 4096
  while (Math.abs(pos.x - x) > 1e-3 || Math.abs(pos.z - z) > 1e-3) {
    pos.x = toward(pos.x, x)
    pos.z = toward(pos.z, z)
    const sent = performance.now()
    walker.write('position', { x: pos.x, y: pos.y, z: pos.z, onGround: true })
    if (record) record({ x: pos.x, z: pos.z, sent })
    await h.sleep(MOVE_MS[0] + Math.random() * (MOVE_MS[1] - MOVE_MS[0]))
  }
}

async function measureBorder (walker, watcher, border, z) {
  const moves = []
  const key = (x, zz) => `${Math.round(x * 4096)},${Math.round(zz * 4096)}`
  const waiting = new Map()
  follow(watcher, walker.entityId, (at, now) => {
    const move = waiting.get(key(at.x, at.z))
    if (move && move.seen === undefined) move.seen = now
  })
  await walkTo(walker, border - SPAN, z)
  for (let pass = 0; pass < PASSES; pass++) {
    // Each pass on its own z, so positions of different passes differ.
    const zz = Math.round((z + (pass % 2 === 0 ? 1 : -1) * 0.03 * Math.ceil(pass / 2)) * 4096) / 4096
    const target = pass % 2 === 0 ? border + SPAN : border - SPAN
    const from = walker.pos.x
    const pending = []
    await walkTo(walker, target, zz, (m) => { pending.push(m); waiting.set(key(m.x, m.z), m) })
    const side = (x) => (x >= border ? 1 : 0)
    let crossedAt = -1
    pending.forEach((m, i) => {
      if (crossedAt < 0 && side(m.x) !== side(from)) crossedAt = i
      const d = Math.abs(m.x - border)
      const since = crossedAt < 0 ? -1 : i - crossedAt
      m.kind = since === 0 ? 'crossing' : since === 1 ? 'next' : (since > 1 && since <= 5 ? 'after' : (d > 3 ? 'steady' : 'near'))
    })
    moves.push(...pending)
    await h.sleep(300)
  }
  await h.sleep(1000)
  const out = {}
  for (const kind of CLASSES) {
    const of = moves.filter((m) => m.kind === kind)
    const lat = of.filter((m) => m.seen !== undefined).map((m) => m.seen - m.sent)
    out[kind] = { n: of.length, seen: lat.length, p50: pct(lat, 50), p99: pct(lat, 99) }
  }
  return out
}

async function main () {
  const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-measure-handoff-'))
  const ports = { 1: await h.freePort(), 2: await h.freePort() }
  const nodes = await Promise.all([1, 2].map((id) => h.startClusterNode(id, ports, { secret: SECRET, shared })))
  const clients = []
  try {
    for (const n of nodes) await n.waitForOutput('this node hosts regions now', { timeout: 30000 })
    await h.waitFor(async () => {
      const out = await nodes[0].command('nodes', /\d+ nodes; placement leader[^\n]*(\n[^\n]*){2}/, { timeout: 3000 }).catch(() => null)
      return out && (out[0].match(/Alive/g) || []).length === 2
    }, { timeout: 20000, message: 'node 1 to list two live nodes' })
    const walker = await player(nodes[0], 'Walker')
    clients.push(walker)
    const watcher = await player(nodes[0], 'Watcher')
    clients.push(watcher)
    // Place the regions around spawn, then pick the borders.
    await h.sleep(2000)
    const map = await regions(nodes[0])
    const borders = {}
    for (const rz of [0, -1, 1, -2]) {
      for (let rx = -3; rx < 3; rx++) {
        const a = map.get(`${rx},${rz}`)
        const b = map.get(`${rx + 1},${rz}`)
        if (a === undefined || b === undefined) continue
        const kind = a === b ? 'same-node' : 'cross-node'
        if (!borders[kind]) borders[kind] = { border: (rx + 1) * REGION, z: rz * REGION + REGION / 2 }
      }
    }
    if (Object.keys(borders).length < 2) console.log(`only ${Object.keys(borders)} borders near spawn: ${JSON.stringify([...map])}`)
    const results = {}
    for (const [kind, { border, z }] of Object.entries(borders)) {
      await h.sleep(500)
      await walkTo(watcher, border + 0.5, z + 3)
      results[kind] = await measureBorder(walker, watcher, border, z)
      const r = results[kind]
      for (const cls of CLASSES) {
        console.log(`${kind.padEnd(10)} ${cls.padEnd(8)} n=${r[cls].n} seen=${r[cls].seen} p50=${r[cls].p50?.toFixed(1)} ms p99=${r[cls].p99?.toFixed(1)} ms`)
      }
      r.added = r.next.p50 - r.steady.p50
      console.log(`${kind.padEnd(10)} added    ${r.added.toFixed(1)} ms`)
    }
    console.log(JSON.stringify({ passes: PASSES, borders, results }))
  } finally {
    await h.quitAll(clients)
    for (const n of nodes) await n.close()
    fs.rmSync(shared, { recursive: true, force: true })
  }
}

main().catch((e) => { console.error(e); process.exit(1) })
