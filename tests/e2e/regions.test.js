'use strict'
// With region_size = 1 (16 x 16 blocks per region), real walking across several
// region borders: the walker stays connected, keeps getting chunks, and stays visible
// (same entity id, never despawned, position keeps updating) to a bot on the other side.
const assert = require('node:assert/strict')
const { Vec3 } = require('vec3')
const h = require('./harness')

const ctx = h.setupServer({ name: 'regions', config: { server: { view_distance: 4 }, world: { region_size: 1 } } })

async function tpTo (bot, x, y, z) {
  bot.chat(`/tp ${x} ${y} ${z}`)
  const target = new Vec3(x, y, z)
  await h.waitFor(() => bot.entity.position.distanceTo(target) < 0.01, { timeout: 5000, message: () => `${bot.label} to be teleported to ${target} (is at ${bot.entity.position})` })
  await h.withTimeout(bot.waitForChunksToLoad(), 15000, `${bot.label} chunks after teleport`)
}

// Watches `observer`'s view of player `name`: records despawns, respawns with new ids, and updates.
function watchPlayer (observer, name, entity) {
  const w = { id: entity.id, gone: [], spawns: [], updates: 0, maxLag: 0 }
  observer.on('entityGone', (e) => { if (e.id === w.id || e.username === name) w.gone.push({ id: e.id, at: e.position.clone(), time: Date.now() }) })
  observer.on('entitySpawn', (e) => { if (e.username === name && e.id !== observer.entity.id) w.spawns.push({ id: e.id, time: Date.now() }) })
  observer.on('entityMoved', (e) => { if (e.id === w.id) w.updates++ })
  return w
}

ctx.test('a bot walks 60 blocks across 4+ region borders, seen all the way by a bot on the other side', async ({ bot }) => {
  const walker = await bot('Walker', { op: true })
  const stander = await bot('Stander', { op: true })
  // Stander waits on the far side, a little off the path.
  await tpTo(stander, 52.5, -60, 3.5)
  await h.waitFor(() => h.seenPlayer(walker, 'Stander') && h.seenPlayer(stander, 'Walker'), { timeout: 10000, message: 'Walker and Stander to see each other (52 blocks apart, view distance 4)' })
  const walkerForStander = h.seenPlayer(stander, 'Walker')
  const standerForWalker = h.seenPlayer(walker, 'Stander')
  assert.equal(walkerForStander.id, walker.entity.id)
  const w = watchPlayer(stander, 'Walker', walkerForStander)
  const s = watchPlayer(walker, 'Stander', standerForWalker)

  // Sample the lag between Walker's real position and Stander's view of it while walking.
  const lags = []
  const regionsVisited = new Set()
  const sampler = setInterval(() => {
    const real = walker.entity.position
    regionsVisited.add(Math.floor(real.x / 16))
    const seen = h.seenPlayer(stander, 'Walker')
    lags.push(seen ? seen.position.distanceTo(real) : Infinity)
  }, 100)
  const t0 = Date.now()
  try {
    await h.walk(walker, { toward: new Vec3(1000, 0, 0.5), until: (b) => b.entity.position.x >= 60.5, timeout: 30000 })
  } finally {
    clearInterval(sampler)
  }
  const took = (Date.now() - t0) / 1000
  const end = walker.entity.position.clone()
  assert.ok(end.x >= 60.5, `Walker reached x=${end.x}`)
  assert.ok(Math.abs(end.y - (-60)) < 0.01, `Walker is at y=${end.y} after walking (fell or was moved?)`)
  assert.ok(Math.abs(end.z - 0.5) < 1.5, `Walker drifted to z=${end.z}`)
  assert.ok(regionsVisited.size >= 4, `Walker visited regions x=${[...regionsVisited]}`)
  assert.ok(took < 25, `walking 60 blocks took ${took} s (server kept correcting the position?)`)
  assert.ok(!walker.isEnded, 'Walker was disconnected')

  await h.sleep(1000)
  // Stander's view of Walker: same entity, never despawned, no second spawn, matches the real position.
  assert.deepEqual(w.gone, [], 'Stander saw Walker\'s entity despawn during the walk')
  assert.deepEqual(w.spawns, [], 'Stander saw Walker\'s entity spawn again during the walk')
  const seenNow = h.seenPlayer(stander, 'Walker')
  assert.ok(seenNow, 'Stander no longer sees Walker')
  assert.equal(seenNow.id, walker.entity.id, 'Walker\'s entity id for Stander changed')
  assert.ok(seenNow.position.distanceTo(walker.entity.position) < 0.3, `Stander sees Walker at ${seenNow.position}, Walker is at ${walker.entity.position}`)
  assert.ok(w.updates >= 20, `only ${w.updates} movement updates of Walker reached Stander during a ${took.toFixed(1)} s walk`)
  const bad = lags.filter((l) => l > 3)
  assert.ok(bad.length <= 3, `Stander's view of Walker lagged more than 3 blocks in ${bad.length} of ${lags.length} samples (max ${Math.max(...lags).toFixed(2)})`)
  // Walker's view of Stander: unchanged too.
  assert.deepEqual(s.gone, [], 'Walker saw Stander\'s entity despawn')
  assert.equal(h.seenPlayer(walker, 'Stander')?.id, stander.entity.id, 'Walker\'s view of Stander changed id')
  // Both still play: chat crosses regions.
  const got = h.waitForEvent(stander, 'chat', { timeout: 5000, filter: (u, m) => u === 'Walker' && m === 'made it', message: 'Stander: chat from Walker' })
  walker.chat('made it')
  await got
  // The walker's chunks followed it: every chunk within view distance 4 of its chunk is loaded
  // (the same square the server sends at spawn), the ground ahead is right.
  assert.equal(h.blockName(walker, new Vec3(Math.floor(end.x) + 40, -61, 0)), 'grass_block', 'ground 40 blocks ahead of the Walker')
  const cx = Math.floor(end.x / 16)
  const cz = Math.floor(end.z / 16)
  const missing = []
  for (let dx = -4; dx <= 4; dx++) {
    for (let dz = -4; dz <= 4; dz++) {
      if (!walker.world.getColumn(cx + dx, cz + dz)) missing.push(`${cx + dx},${cz + dz}`)
    }
  }
  const loadedRow = walker.world.getColumns().filter((c) => Number(c.chunkZ) === cz).map((c) => Number(c.chunkX)).sort((a, b) => a - b)
  assert.deepEqual(missing, [], `Walker at x=${end.x.toFixed(1)} (chunk ${cx},${cz}) lacks chunks within view distance 4; loaded chunk x in row z=${cz}: ${loadedRow.join(' ')}`)
  // last, as it masks nothing else: real walking speed (~4.3 blocks/s)
  assert.ok(took > 10, `walking 60 blocks took only ${took.toFixed(1)} s (${(60 / took).toFixed(1)} blocks/s, walking is ~4.3): the client's own position is being moved by the server`)
})

ctx.test('walking back and forth across one region border many times keeps the entity stable', async ({ bot }) => {
  const a = await bot('Pacer', { op: true })
  const b = await bot('Counter', { op: true })
  // Border between regions x=0 (0..15) and x=1 (16..31); pace across x=16.
  await tpTo(a, 13.5, -60, 8.5)
  await tpTo(b, 16.5, -60, 14.5)
  const seen = await h.waitForSeenPlayer(b, 'Pacer')
  const w = watchPlayer(b, 'Pacer', seen)
  for (let i = 0; i < 4; i++) {
    await h.walk(a, { toward: new Vec3(1000, 0, 8.5), until: (x) => x.entity.position.x >= 19.5, timeout: 8000 })
    await h.walk(a, { toward: new Vec3(-1000, 0, 8.5), until: (x) => x.entity.position.x <= 13.5, timeout: 8000 })
  }
  await h.sleep(800)
  assert.deepEqual(w.gone, [], 'Counter saw Pacer despawn while pacing across the border')
  assert.deepEqual(w.spawns, [], 'Counter saw Pacer spawn again while pacing across the border')
  const now = h.seenPlayer(b, 'Pacer')
  assert.ok(now && now.id === a.entity.id, 'Counter\'s entity for Pacer')
  assert.ok(now.position.distanceTo(a.entity.position) < 0.3, `Counter sees Pacer at ${now.position}, Pacer is at ${a.entity.position}`)
})

ctx.test('a bot that walks out of view distance despawns for the other and reappears when it comes back', async ({ bot }) => {
  const a = await bot('Roamer', { op: true })
  const b = await bot('Homebody', { op: true })
  await h.waitForSeenPlayer(b, 'Roamer')
  // teleport far away (beyond any view/tracking distance), then come back
  const gone = h.waitForEvent(b, 'entityGone', { timeout: 10000, filter: (e) => e.id === a.entity.id, message: 'Homebody: Roamer despawns when 200 blocks away' })
  await tpTo(a, 200.5, -60, 0.5)
  await gone
  assert.ok(b.players.Roamer, 'Roamer must stay in the tab list while far away')
  const back = h.waitForEvent(b, 'entitySpawn', { timeout: 10000, filter: (e) => e.username === 'Roamer', message: 'Homebody: Roamer spawns again when back' })
  await tpTo(a, 2.5, -60, 0.5)
  await back
  await h.waitFor(() => {
    const e = h.seenPlayer(b, 'Roamer')
    return e && e.id === a.entity.id && e.position.distanceTo(a.entity.position) < 0.3
  }, { timeout: 5000, message: () => `Homebody's view of Roamer (${h.seenPlayer(b, 'Roamer')?.position}) to match ${a.entity.position}` })
})
