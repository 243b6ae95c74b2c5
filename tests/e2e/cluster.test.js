'use strict'
// Three real tessera nodes on 127.0.0.1 form one world: players connected to
// different nodes see each other, chat, and build across region borders that
// are node borders; a SIGKILLed node's regions move to the survivors while
// their players keep playing and the dead node's own players leave the
// world; a node started later takes over live regions while their players
// play on; a node with the wrong cluster secret is refused.
const assert = require('node:assert/strict')
const { test } = require('node:test')
const { Vec3 } = require('vec3')
const h = require('./harness')

const SECRET = 'e2e-cluster-secret-0123456789'
const fx = h.clusterFixture('cluster')
const { shared, servers, clients } = fx

async function startNode (id, nodes, { secret = SECRET, name = `node${id}` } = {}) {
  const server = await h.startClusterNode(id, nodes, { secret, shared, name, waitReady: secret === SECRET })
  servers.push(server)
  return server
}

const join = fx.join

// The `regions` console command as a map "r.x.z" -> node id (the console
// lists at most 64), and the number of regions placed.
async function regions (server, node) {
  return (await h.listRegions(server, node)).map
}

async function tpTo (bot, x, y, z) {
  bot.chat(`/tp ${x} ${y} ${z}`)
  const target = new Vec3(x, y, z)
  await h.waitFor(() => bot.entity.position.distanceTo(target) < 0.01, { timeout: 10000, message: () => `${bot.label} to be teleported to ${target} (is at ${bot.entity.position})` })
  await h.withTimeout(bot.waitForChunksToLoad(), 20000, `${bot.label} chunks after teleport`)
}

let ports, n1, n2, n3

test('three nodes form one world', { timeout: 120000 }, async () => {
  ports = { 1: await h.freePort(), 2: await h.freePort(), 3: await h.freePort() }
  ;[n1, n2, n3] = await Promise.all([1, 2, 3].map((id) => startNode(id, ports)))
  for (const s of [n1, n2, n3]) {
    await s.waitForOutput('this node hosts regions now', { timeout: 30000 })
  }
  await h.waitFor(async () => {
    const out = await n1.command('nodes', /\d+ nodes; placement leader[^\n]*(\n[^\n]*){3}/, { timeout: 3000 }).catch(() => null)
    return out && (out[0].match(/Alive/g) || []).length === 3
  }, { timeout: 20000, message: 'node 1 to list three live nodes' })
})

test('players on different nodes walk across node borders, see each other, chat and build', { timeout: 150000 }, async () => {
  const walker = await join(n1, 'Walker', { op: true })
  const watcher = await join(n2, 'Watcher', { op: true })
  await h.waitFor(() => h.seenPlayer(watcher, 'Walker') && h.seenPlayer(walker, 'Watcher'), { timeout: 15000, message: 'Walker (node 1) and Watcher (node 2) to see each other' })
  const walkerId = h.seenPlayer(watcher, 'Walker').id
  assert.equal(walkerId, walker.entity.id, 'entity ids are the same for everyone in the cluster')

  const heard = h.waitForEvent(walker, 'chat', { timeout: 5000, filter: (u, m) => u === 'Watcher' && m === 'hello across nodes' })
  watcher.chat('hello across nodes')
  await heard
  assert.ok(walker.players.Watcher && watcher.players.Walker, 'both are in each other\'s tab list')

  // Pick a straight walk of three regions from spawn that crosses a node border.
  const map = await regions(n1)
  const directions = [[1, 0], [-1, 0], [0, 1], [0, -1]]
  const crossing = directions.find(([dx, dz]) => new Set([0, 1, 2].map((i) => map.get(`r.${i * dx}.${i * dz}`))).size >= 2)
  assert.ok(crossing, `no straight walk from spawn crosses a node border: ${JSON.stringify([...map])}`)
  const [dx, dz] = crossing
  let gone = 0
  watcher.on('entityGone', (e) => { if (e.id === walkerId) gone++ })
  const target = new Vec3(0.5 + dx * 1000, 0, 0.5 + dz * 1000)
  const progress = (b) => (b.entity.position.x - 0.5) * dx + (b.entity.position.z - 0.5) * dz
  await h.walk(walker, { toward: target, until: (b) => progress(b) >= 40, timeout: 40000 })
  assert.ok(!walker.isEnded, 'Walker stayed connected across node borders')
  await h.sleep(1000)
  const seen = h.seenPlayer(watcher, 'Walker')
  assert.ok(seen, 'Watcher still sees Walker after the walk')
  assert.equal(seen.id, walkerId)
  assert.equal(gone, 0, 'Watcher saw Walker despawn while it crossed node borders')
  assert.ok(seen.position.distanceTo(walker.entity.position) < 1, `Watcher sees Walker at ${seen.position}, Walker is at ${walker.entity.position}`)

  // Build in a region owned by another node than the builder's region may be; Watcher sees it.
  walker.chat('/gamemode creative')
  await h.waitFor(() => walker.game.gameMode === 'creative', { timeout: 5000, message: 'Walker in creative' })
  const Item = require('prismarine-item')(walker.registry)
  await walker.creative.setInventorySlot(36, new Item(walker.registry.itemsByName.gold_block.id, 16))
  const ground = walker.entity.position.floored().offset(2, -1, 0)
  await walker.placeBlock(walker.blockAt(ground), new Vec3(0, 1, 0))
  const placed = ground.offset(0, 1, 0)
  await h.waitForBlock(watcher, placed, 'gold_block', 10000)
  await walker.dig(walker.blockAt(placed), true)
  await h.waitForBlock(watcher, placed, 'air', 10000)
})

test('a SIGKILLed node\'s regions move to the others and their players keep playing', { timeout: 120000 }, async () => {
  const three = await h.listRegions(n1, 3)
  const onThree = [...three.map.keys()]
  assert.ok(onThree.length > 0, 'node 3 owns no region to lose')
  const walker = [...clients].find((c) => c.username === 'Walker')
  const watcher = [...clients].find((c) => c.username === 'Watcher')
  // A player connected through node 3, standing in node 1's region beside
  // Watcher, must not stay there as a ghost once node 3 is dead.
  const [, gx, gz] = [...(await regions(n1, 1)).keys()][0].split('.').map(Number)
  const doomed = await join(n3, 'Doomed', { op: true })
  await tpTo(watcher, gx * 16 + 8.5, -60, gz * 16 + 8.5)
  await tpTo(doomed, gx * 16 + 9.5, -60, gz * 16 + 8.5)
  const ghost = await h.waitForSeenPlayer(watcher, 'Doomed')
  const killedAt = Date.now()
  await n3.kill()
  let left
  await h.waitFor(async () => {
    left = (await h.listRegions(n1, 3)).placed
    return left === 0
  }, { timeout: 30000, interval: 250, message: () => `node 3's regions to move (${left} still on node 3)` })
  const movedIn = Date.now() - killedAt
  process.stdout.write(`# node 3's ${three.placed} regions were reassigned ${movedIn} ms after SIGKILL\n`)
  await h.waitFor(() => !watcher.entities[ghost.id], { timeout: 20000, message: 'the entity of a player of the dead node 3 to despawn for Watcher' })
  // Players on the surviving frontends play on in the moved regions.
  const [rx] = onThree[0].slice(2).split('.').map(Number)
  await tpTo(walker, rx * 16 + 8.5, -60, 0.5)
  const below = walker.entity.position.floored().offset(0, -1, 0)
  assert.equal(h.blockName(walker, below), 'grass_block', 'the moved region serves its chunks')
  assert.ok(!walker.isEnded, 'Walker is still connected')
  const heard = h.waitForEvent(walker, 'chat', { timeout: 5000, filter: (u, m) => u === 'Watcher' && m === 'still here' })
  watcher.chat('still here')
  await heard
})

test('a node started later takes over live regions, whose players play on', { timeout: 120000 }, async () => {
  // `regions` lists a limited number; the header counts them all.
  const placed = async () => Number((await n1.command('regions', /(\d+) regions placed/, { timeout: 5000 }))[1])
  const walker = [...clients].find((c) => c.username === 'Walker')
  const watcher = [...clients].find((c) => c.username === 'Watcher')
  // The newcomer's first region is the first (in key order) of the busiest
  // node: a player stands in the first region of each node.
  const stoodIn = []
  for (const [bot, id] of [[walker, 1], [watcher, 2]]) {
    const first = [...(await regions(n1, id)).keys()][0]
    const [x, z] = first.slice(2).split('.').map(Number)
    await tpTo(bot, x * 16 + 8.5, -60, z * 16 + 8.5)
    stoodIn.push(first)
  }
  const total = await placed()
  const before = new Map()
  for (const id of [1, 2]) for (const [r, node] of await regions(n1, id)) before.set(r, node)
  const n4 = await startNode(4, { ...ports, 4: await h.freePort() })
  await n4.waitForOutput('this node hosts regions now', { timeout: 30000 })
  // It takes its share of the regions in play: each owner stops and saves
  // its region before the move commits; players in it re-attach.
  let taken = []
  await h.waitFor(async () => {
    taken = [...(await regions(n1, 4)).keys()].filter((r) => before.has(r))
    return taken.length > 0 && stoodIn.some((r) => taken.includes(r))
  }, { timeout: 30000, interval: 250, message: () => `node 4 to take live regions, one with a player (${stoodIn}) among them (took ${taken})` })
  await h.sleep(1000)
  taken = [...(await regions(n1, 4)).keys()].filter((r) => before.has(r))
  process.stdout.write(`# node 4 took ${taken.length} of ${total} live regions\n`)
  assert.ok(taken.length <= Math.ceil(total / 3), `node 4 took more than its share: ${taken.length} of ${total}`)
  const mover = stoodIn[0] && taken.includes(stoodIn[0]) ? walker : watcher
  const other = mover === walker ? watcher : walker
  const below = mover.entity.position.floored().offset(0, -1, 0)
  await h.waitFor(() => h.blockName(mover, below) === 'grass_block', { timeout: 10000, message: () => `${mover.username}'s moved region to serve its chunks` })
  assert.ok(!walker.isEnded && !watcher.isEnded, 'the players are still connected')
  // The region, now on node 4, takes the mover's changes.
  mover.chat('/gamemode creative')
  await h.waitFor(() => mover.game.gameMode === 'creative', { timeout: 5000, message: `${mover.username} in creative` })
  const Item = require('prismarine-item')(mover.registry)
  await mover.creative.setInventorySlot(36, new Item(mover.registry.itemsByName.gold_block.id, 16))
  const ground = mover.entity.position.floored().offset(2, -1, 0)
  await mover.placeBlock(mover.blockAt(ground), new Vec3(0, 1, 0))
  await h.waitForBlock(mover, ground.offset(0, 1, 0), 'gold_block', 10000)
  const heard = h.waitForEvent(other, 'chat', { timeout: 5000, filter: (u, m) => u === mover.username && m === 'on node 4 now' })
  mover.chat('on node 4 now')
  await heard
  // Fresh land far away is placed too (served only once it has an owner).
  const explorer = await join(n1, 'Explorer', { op: true })
  await tpTo(explorer, 5000.5, -60, 5000.5)
  assert.equal(h.blockName(explorer, explorer.entity.position.floored().offset(0, -1, 0)), 'grass_block')
})

test('a node with the wrong cluster secret is refused', { timeout: 60000 }, async () => {
  const since = n1.mark()
  const intruder = await startNode(9, { ...ports, 9: await h.freePort() }, { secret: 'not-the-cluster-secret-at-all', name: 'intruder' })
  await n1.waitForOutput(/WARN[^\n]*(refus|secret|authenticat)/i, { since, timeout: 15000, message: 'node 1 to log the refused peer' })
  await h.sleep(3000)
  const listed = await n1.command('nodes', /\d+ nodes; placement leader[^\n]*((\n[^\n]*node \d+ at[^\n]*)*)/, { timeout: 5000 })
  assert.ok(!/node 9 at/.test(listed[0]), `the intruder became a member: ${listed[0]}`)
  assert.ok(!/e2e-cluster-secret|not-the-cluster-secret/.test(n1.output), 'a secret appeared in node 1\'s log')
  await intruder.close()
})
