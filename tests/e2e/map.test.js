'use strict'
// The live cluster map on the admin interface (/map): real nodes, real bots,
// the page in headless Chromium (playwright-core, Debian's /usr/bin/chromium).
//
// Two nodes host the regions; a third one is only there so that the Raft
// group (the three lowest ids) keeps a majority when one of the two dies: it
// is drained at once, so it hosts nothing and the dead node's regions all go
// to the survivor. One bot plays through each hosting node.
//   - /map/regions and /map/players of each node agree with its console
//     (`regions`, `list`), and a region's tile is a PNG of the region's size;
//   - node 1's map page draws both players and every region in its owner's
//     colour; after node 2 is SIGKILLed, the page shows node 2's regions on
//     node 1, in node 1's colour, within the cluster's failover time.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { test, after } = require('node:test')
const { Vec3 } = require('vec3')
const h = require('./harness')

const SECRET = 'e2e-map-secret-0123456789abcdef'
const CHROMIUM = '/usr/bin/chromium'
// On this closed network Chromium's own background connections must be off,
// or page loads are refused.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
// cluster.test.js allows 30 s for a SIGKILLed node's regions to move; the
// page sees the table at most a second or two later.
const FAILOVER_MS = 30000 + 10000
const PLAYERS_MS = 20000

const fx = h.clusterFixture('map')
const nodes = {}
let ports, admin1, admin2

async function startNode (id) {
  const server = await h.startClusterNode(id, ports, {
    secret: SECRET,
    shared: fx.shared,
    name: `map-node${id}`,
    config: { server: { view_distance: 2 } }
  })
  fx.servers.push(server)
  nodes[id] = server
  await server.waitForOutput('this node hosts regions now', { timeout: 30000 })
  return server
}

async function getJson (base, route) {
  const res = await fetch(`${base}${route}`, { cache: 'no-store' })
  assert.equal(res.status, 200, `GET ${route} answered ${res.status}`)
  const type = res.headers.get('content-type') || ''
  assert.match(type, /json/, `GET ${route} content-type ${type}`)
  return res.json()
}

// The console's `regions [node]`: the header's counts and the listed regions
// (at most 64 are listed) as "x,z" -> { node, epoch }.
async function consoleRegions (server, node) {
  const since = server.mark()
  server.send(node ? `regions ${node}` : 'regions')
  const out = await server.waitForOutput(/(\d+) regions placed \(([^)\n]*)\)\n?((?:r\.-?\d+\.-?\d+ -> node \d+ \(epoch \d+\)\n?)*)(\.\.\. and (\d+) more)?/, { since, timeout: 5000 })
  const perNode = {}
  for (const m of out[2].matchAll(/node (\d+): (\d+)/g)) perNode[m[1]] = Number(m[2])
  const listed = new Map()
  for (const m of out[3].matchAll(/r\.(-?\d+)\.(-?\d+) -> node (\d+) \(epoch (\d+)\)/g)) {
    listed.set(`${m[1]},${m[2]}`, { node: Number(m[3]), epoch: Number(m[4]) })
  }
  return { placed: Number(out[1]), perNode, listed, text: out[0] }
}

const LIST_RE = /There are (\d+) of a max of (\d+) players online:?([^\n]*)/
async function consoleList (server) {
  const out = await server.command('list', LIST_RE, { timeout: 5000 })
  return out[3].split(',').map((s) => s.trim()).filter(Boolean).sort()
}

// What differs between a node's /map/regions and its console (empty when they agree).
async function regionsDiff (server, base, id) {
  const json = await getJson(base, '/map/regions')
  const problems = []
  if (json.node !== id) problems.push(`node is ${json.node}, not ${id}`)
  if (json.region_chunks !== 1) problems.push(`region_chunks is ${json.region_chunks}, the config says 1`)
  const all = await consoleRegions(server)
  const byKey = new Map(json.regions.map((r) => [`${r.x},${r.z}`, r]))
  if (byKey.size !== json.regions.length) problems.push('a region is listed twice')
  if (json.regions.length !== all.placed) problems.push(`${json.regions.length} regions in the JSON, the console says ${all.placed} placed`)
  for (const n of [1, 2, 3]) {
    const jsonCount = json.regions.filter((r) => r.node === n).length
    const consoleCount = all.perNode[n] || 0
    if (jsonCount !== consoleCount) problems.push(`node ${n}: ${jsonCount} regions in the JSON, ${consoleCount} on the console`)
    const entry = json.nodes.find((x) => x.id === n)
    if (!entry) problems.push(`node ${n} missing from nodes`)
    else {
      if (entry.state !== 'alive') problems.push(`node ${n} is ${entry.state}`)
      if (entry.regions !== consoleCount) problems.push(`nodes[${n}].regions is ${entry.regions}, the console says ${consoleCount}`)
    }
    // Every region the console lists for the node, with its epoch.
    const mine = await consoleRegions(server, n)
    for (const [key, owner] of mine.listed) {
      const r = byKey.get(key)
      if (!r) problems.push(`r.${key.replace(',', '.')} (node ${owner.node}) is not in the JSON`)
      else if (r.node !== owner.node || r.epoch !== owner.epoch) problems.push(`r.${key.replace(',', '.')}: JSON node ${r.node} epoch ${r.epoch}, console node ${owner.node} epoch ${owner.epoch}`)
    }
  }
  for (const r of json.regions) {
    for (const f of ['x', 'z', 'node', 'epoch', 'players']) if (!Number.isInteger(r[f])) problems.push(`region ${JSON.stringify(r)}: ${f} is not an integer`)
    for (const f of ['tick_p50_ms', 'tick_p99_ms']) if (r[f] !== null && typeof r[f] !== 'number') problems.push(`region ${JSON.stringify(r)}: ${f}`)
    if (!('version' in r)) problems.push(`region ${JSON.stringify(r)} has no version`)
  }
  return { problems, json }
}

function pngSize (buf) {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  assert.ok(buf.length > 24 && buf.subarray(0, 8).equals(signature), `not a PNG: ${buf.subarray(0, 16).toString('hex')}`)
  assert.equal(buf.subarray(12, 16).toString('latin1'), 'IHDR', 'the PNG starts with IHDR')
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) }
}

async function tpTo (bot, x, y, z) {
  bot.chat(`/tp ${x} ${y} ${z}`)
  const target = new Vec3(x, y, z)
  await h.waitFor(() => bot.entity.position.distanceTo(target) < 0.01, { timeout: 10000, message: () => `${bot.label} to be teleported to ${target} (is at ${bot.entity.position})` })
  await h.withTimeout(bot.waitForChunksToLoad(), 20000, `${bot.label} chunks after teleport`)
}

// ---------------------------------------------------------------------------
// Headless Chromium
// ---------------------------------------------------------------------------

let browser = null
let profile = null
after(async () => {
  if (browser) await browser.close().catch(() => {})
  if (profile) fs.rmSync(profile, { recursive: true, force: true })
}, { timeout: 20000 })

async function openPage (url) {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing (tests/run.sh installs Debian's chromium)`)
  const { chromium } = require('playwright-core')
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-e2e-chromium-'))
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 }
  })
  const page = browser.pages()[0] || await browser.newPage()
  page.errors = []
  page.on('pageerror', (err) => page.errors.push(String(err && err.stack ? err.stack : err)))
  // (a tile not drawn yet answers 404: the browser logs that, it is no error of the page)
  page.on('console', (msg) => { if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) page.errors.push(`console: ${msg.text()}`) })
  const res = await page.goto(url, { waitUntil: 'load', timeout: 15000 })
  assert.equal(res.status(), 200, `GET ${url} answered ${res.status()}`)
  return page
}

const owners = async (page) => new Map(((await page.evaluate(() => document.body.dataset.owners)) || '')
  .split(';').filter(Boolean).map((e) => e.split('=')).map(([k, n]) => [k, Number(n)]))
const drawnNames = async (page) => ((await page.evaluate(() => document.body.dataset.players)) || '').split(',').filter(Boolean)

async function screenshot (page, name) {
  fs.mkdirSync(h.LOG_DIR, { recursive: true })
  const file = path.join(h.LOG_DIR, name)
  await page.screenshot({ path: file })
  process.stdout.write(`# map screenshot: ${file}\n`)
  return file
}

// ---------------------------------------------------------------------------

test('two nodes host the world (a third, drained, only votes); a bot plays through each', { timeout: 150000 }, async () => {
  ports = { 1: await h.freePort(), 2: await h.freePort(), 3: await h.freePort() }
  await Promise.all([1, 2, 3].map(startNode))
  const drained = await nodes[1].command('drain 3', /Drained node 3: moved \d+ regions[^\n]*|Failed: [^\n]*/, { timeout: 60000 })
  assert.match(drained[0], /^Drained/, drained[0])
  admin1 = await h.adminUrl(nodes[1])
  admin2 = await h.adminUrl(nodes[2])
  const one = await fx.join(nodes[1], 'MapOne', { op: true })
  const two = await fx.join(nodes[2], 'MapTwo', { op: true })
  await tpTo(two, -20.5, -60, 12.5)
  await tpTo(one, 6.5, -60, -4.5)
  await h.waitFor(async () => {
    const r = await consoleRegions(nodes[1])
    return (r.perNode[1] || 0) > 0 && (r.perNode[2] || 0) > 0 && !r.perNode[3]
  }, { timeout: 15000, interval: 500, message: 'nodes 1 and 2 to own regions, node 3 none' })
})

test('/map/regions and /map/players agree with the console; a tile is a PNG of the region', { timeout: 90000 }, async () => {
  for (const [id, base] of [[1, admin1], [2, admin2]]) {
    let last = null
    await h.waitFor(async () => {
      last = await regionsDiff(nodes[id], base, id)
      return last.problems.length === 0
    }, { timeout: 15000, interval: 1000, message: () => `node ${id}'s /map/regions to match its console: ${last && last.problems.join('; ')}` })
    let listed = []
    let named = []
    await h.waitFor(async () => {
      listed = await consoleList(nodes[id])
      const json = await getJson(base, '/map/players')
      named = json.players.map((p) => p.name).sort()
      return JSON.stringify(named) === JSON.stringify(listed) && listed.length === 2
    }, { timeout: 15000, interval: 1000, message: () => `node ${id}'s /map/players (${named}) to name the players the console lists (${listed})` })
    const { players } = await getJson(base, '/map/players')
    for (const p of players) {
      assert.ok([1, 2].includes(p.node), `player ${JSON.stringify(p)}: node`)
      for (const f of ['x', 'y', 'z']) assert.equal(typeof p[f], 'number', `player ${JSON.stringify(p)}: ${f}`)
    }
    const two = players.find((p) => p.name === 'MapTwo')
    assert.ok(Math.abs(two.x - -20.5) < 1 && Math.abs(two.z - 12.5) < 1 && Math.abs(two.y - -60) < 1, `MapTwo is at -20.5 -60 12.5, /map/players says ${JSON.stringify(two)}`)
  }

  // A tile of each hosting node's regions, both fetched through node 1.
  let regions = []
  await h.waitFor(async () => {
    regions = (await getJson(admin1, '/map/regions')).regions
    return [1, 2].every((n) => regions.some((r) => r.node === n && r.version !== null))
  }, { timeout: 20000, interval: 1000, message: () => `a rendered tile (version) of both nodes' regions (${regions.filter((r) => r.version !== null).length} of ${regions.length} have one)` })
  for (const n of [1, 2]) {
    const r = regions.find((x) => x.node === n && x.version !== null)
    const url = `${admin1}/map/tile/${r.x}/${r.z}.png?v=${encodeURIComponent(r.version)}`
    const res = await fetch(url)
    assert.equal(res.status, 200, `GET ${url} answered ${res.status}`)
    assert.match(res.headers.get('content-type') || '', /image\/png/)
    const size = pngSize(Buffer.from(await res.arrayBuffer()))
    assert.deepEqual(size, { width: 16, height: 16 }, `r.${r.x}.${r.z}'s tile (node ${n}) is ${size.width}x${size.height}, a region is 16 blocks wide`)
  }
  const missing = await fetch(`${admin1}/map/tile/9999/9999.png`)
  assert.equal(missing.status, 404, 'a region without a tile answers 404')
})

test('node 1\'s map page draws both players and the owners; after node 2 is SIGKILLed its regions show on node 1', { timeout: 150000 }, async () => {
  const page = await openPage(`${admin1}/map`)
  let names = []
  await h.waitFor(async () => {
    names = await drawnNames(page)
    return names.includes('MapOne') && names.includes('MapTwo')
  }, { timeout: PLAYERS_MS, interval: 250, message: () => `the page to draw MapOne and MapTwo (draws ${JSON.stringify(names)}; errors ${JSON.stringify(page.errors)})` })
  assert.equal(await page.evaluate(() => window.tesseraMap.connection), 'live', 'the page follows /map/events')
  await h.waitFor(async () => (await page.evaluate(() => window.tesseraMap.tilesLoaded().length)) > 0, { timeout: 20000, interval: 500, message: 'the page to draw tiles' })

  // The page's owners are the placement table's.
  let drawn = new Map()
  let table = new Map()
  await h.waitFor(async () => {
    drawn = await owners(page)
    const json = await getJson(admin1, '/map/regions')
    table = new Map(json.regions.map((r) => [`${r.x},${r.z}`, r.node]))
    return drawn.size === table.size && [...table].every(([k, n]) => drawn.get(k) === n)
  }, { timeout: 10000, interval: 500, message: () => `the page's owners (${drawn.size}) to be /map/regions' (${table.size})` })
  const onTwo = [...drawn].filter(([, n]) => n === 2).map(([k]) => k)
  const onOne = [...drawn].filter(([, n]) => n === 1).map(([k]) => k)
  assert.ok(onTwo.length > 0 && onOne.length > 0, `both nodes own regions on the map: ${[...drawn].map(([k, n]) => `${k}=${n}`).join(';')}`)
  const colour = (k) => page.evaluate(([x, z]) => window.tesseraMap.regionColor(x, z), k.split(',').map(Number))
  const colourOne = await colour(onOne[0])
  const colourTwo = await colour(onTwo[0])
  assert.ok(colourOne && colourTwo && colourOne !== colourTwo, `nodes 1 and 2 have different colours (${colourOne}, ${colourTwo})`)
  // Hover over a region of node 2 away from the players: the screenshot shows its tooltip.
  const spot = await page.evaluate((keys) => {
    const m = window.tesseraMap
    const { cx, cz, scale } = m.view
    const size = m.state.region_chunks * 16
    const busy = new Set(m.state.players.map((p) => `${Math.floor(p.x / size)},${Math.floor(p.z / size)}`))
    const key = keys.find((k) => !busy.has(k)) || keys[0]
    const [x, z] = key.split(',').map(Number)
    return { x: ((x + 0.5) * size - cx) * scale + window.innerWidth / 2, y: ((z + 0.5) * size - cz) * scale + window.innerHeight / 2 }
  }, onTwo)
  await page.mouse.move(spot.x, spot.y)
  await h.sleep(500)
  await screenshot(page, 'map-two-nodes.png')

  const consoleOnTwo = [...(await consoleRegions(nodes[1], 2)).listed.keys()]
  const lost = [...new Set([...onTwo, ...consoleOnTwo])]
  const killedAt = Date.now()
  await nodes[2].kill()
  let wrong = []
  await h.waitFor(async () => {
    drawn = await owners(page)
    wrong = lost.filter((k) => drawn.get(k) !== 1)
    return wrong.length === 0 && ![...drawn.values()].includes(2)
  }, { timeout: FAILOVER_MS, interval: 250, message: () => `node 2's ${lost.length} regions to show on node 1 (not yet: ${wrong.map((k) => `${k}=${drawn.get(k)}`).join(' ')}; errors ${JSON.stringify(page.errors)})` })
  process.stdout.write(`# the map showed node 2's ${lost.length} regions on node 1 ${Date.now() - killedAt} ms after SIGKILL\n`)
  for (const k of lost) assert.equal(await colour(k), colourOne, `r.${k.replace(',', '.')} is drawn in node 1's colour`)
  assert.equal(await page.evaluate(() => window.tesseraMap.nodeColor(1)), colourOne)
  assert.ok((await drawnNames(page)).includes('MapOne'), 'MapOne is still drawn')
  assert.equal(await page.evaluate(() => window.tesseraMap.connection), 'live', 'the page of the surviving node stays live')
  await screenshot(page, 'map-after-failover.png')
  assert.deepEqual(page.errors, [], 'the page reported errors')
})

test('at most 16 live map streams at once: past them one is refused with 503 and Retry-After, and a slot comes back when one closes', { timeout: 60000 }, async () => {
  // The page of the test before may still hold a stream of its own.
  const open = []
  let refused = null
  try {
    while (open.length <= 16) {
      const controller = new AbortController()
      const res = await fetch(`${admin1}/map/events`, { signal: controller.signal })
      if (res.status !== 200) {
        refused = res
        break
      }
      open.push(controller)
    }
    assert.ok(refused, 'a 17th stream was served')
    assert.ok(open.length >= 15, `only ${open.length} streams were served before the refusal`)
    assert.equal(refused.status, 503)
    assert.equal(refused.headers.get('retry-after'), '5')
    assert.match(await refused.text(), /too many map pages/)
    open.pop().abort()
    await h.waitFor(async () => {
      const again = await fetch(`${admin1}/map/events`, { signal: AbortSignal.timeout(2000) }).catch(() => null)
      if (!again || again.status !== 200) return false
      again.body.cancel().catch(() => {})
      return true
    }, { timeout: 15000, interval: 500, message: () => 'a stream slot to come back after one closed' })
  } finally {
    for (const c of open) c.abort()
  }
})
