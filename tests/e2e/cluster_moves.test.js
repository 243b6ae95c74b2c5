'use strict'
// Moving live regions on an operator's word, on three real nodes sharing one
// world folder: `handoff` one region while a player builds in it, `drain` a
// node and `undrain` it, then SIGTERM a node while a player on it builds:
// the node hands its regions to the others, its player is told why it was
// disconnected, it exits 0 within the grace period, and every confirmed
// change is there. The world's rules (time, weather) hold on every node.
const assert = require('node:assert/strict')
const { test } = require('node:test')
const h = require('./harness')
const builder = require('./builder')

const SECRET = 'e2e-cluster-moves-secret-0123456789'
const GRACE = 15
const fx = h.clusterFixture('cluster-moves')
const nodes = {}
let ports

async function startNode (id) {
  const server = await h.startClusterNode(id, ports, {
    secret: SECRET,
    shared: fx.shared,
    name: `moves-node${id}`,
    config: { server: { stop_grace_seconds: GRACE } }
  })
  fx.servers.push(server)
  nodes[id] = server
  await server.waitForOutput('this node hosts regions now', { timeout: 30000 })
  return server
}

function centre (name) {
  const [x, z] = name.slice(2).split('.').map(Number)
  return { name, x: x * 16 + 8, z: z * 16 + 8 }
}

async function regionOf (via, owner, avoid = []) {
  let name
  await h.waitFor(async () => {
    const { map } = await h.listRegions(via, owner)
    name = [...map.keys()].find((r) => !avoid.includes(r) && r !== 'r.0.0')
    return name
  }, { timeout: 15000, interval: 500, message: `a region of node ${owner}` })
  return centre(name)
}

function check (server, name, area, ledger, label) {
  return builder.checkThrough(fx, server, name, area, ledger, label)
}

// Builds in `area` through `server` until `moveAt` confirmations, then runs
// `move` while the builder goes on; returns the ledger.
async function buildAcross (server, bot, area, move, moveAt = 80) {
  await builder.teleport(server, bot, area.x, area.z)
  await builder.creativeWithStone(server, bot)
  const ledger = new builder.Ledger(bot)
  let moving = null
  ledger.onConfirmation((n) => { if (n >= moveAt && !moving) moving = move() })
  await builder.run(bot, builder.plan(area.x, area.z), ledger)
  assert.ok(moving, `the plan ended before ${moveAt} confirmations (${ledger.confirmations})`)
  await moving
  return ledger
}

test('three nodes share one world folder', { timeout: 120000 }, async () => {
  ports = { 1: await h.freePort(), 2: await h.freePort(), 3: await h.freePort() }
  await Promise.all([1, 2, 3].map(startNode))
})

test('handoff moves one region while a player builds in it: the player stays, nothing confirmed is lost', { timeout: 120000 }, async () => {
  const bot = await fx.join(nodes[1], 'HandedBuilder', { op: true })
  const area = await regionOf(nodes[1], 2)
  let answer
  const ledger = await buildAcross(nodes[1], bot, area, async () => {
    answer = await nodes[1].command(`handoff ${area.name} 3`, /Moved r\.-?\d+\.-?\d+ from node 2 to node 3 \(epoch \d+\) in [\d.]+ s|Failed: [^\n]*/, { timeout: 20000 })
  })
  assert.match(answer[0], /^Moved/, answer[0])
  assert.equal((await h.listRegions(nodes[1])).map.get(area.name), 3)
  assert.ok(!bot.isEnded, 'the builder stays connected through the handoff')
  const kept = await check(nodes[2], 'HandoffChecker', area, ledger, 'after the handoff')
  process.stdout.write(`# ${answer[0]}; ${ledger.confirmations} confirmations, ${kept} confirmed states found through node 2\n`)
  await nodes[1].command(`handoff ${area.name} 3`, /is already on node 3/)
  await nodes[1].command('handoff r.x.1 3', /Not a region: r\.x\.1/)
  await nodes[1].command('handoff r.900.900 3', /r\.900\.900 has no owner/)
  await nodes[1].command(`handoff ${area.name} 9`, /node 9 is not live/)
  bot.quit()
  fx.clients.delete(bot)
})

test('drain moves every region off a node, which then gets no new ones; undrain gives it its share back', { timeout: 150000 }, async () => {
  const before = await h.listRegions(nodes[1], 3)
  assert.ok(before.placed > 0, 'node 3 owns regions before the drain')
  const drained = await nodes[1].command('drain 3', /Drained node 3: moved (\d+) regions to nodes ([\d, ]+) in ([\d.]+) s|Failed: [^\n]*/, { timeout: 60000 })
  assert.match(drained[0], /^Drained/, drained[0])
  assert.equal((await h.listRegions(nodes[1], 3)).placed, 0, 'node 3 owns nothing after the drain')
  // A player on the drained node still plays: its regions run elsewhere.
  const placedBefore = (await h.listRegions(nodes[1])).placed
  const walker = await fx.join(nodes[3], 'DrainedWalker', { op: true })
  await builder.teleport(nodes[3], walker, 16 * 20 + 8, 16 * 20 + 8)
  await h.waitFor(async () => (await h.listRegions(nodes[1])).placed > placedBefore, { timeout: 10000, message: 'the walker\'s new regions to be placed' })
  assert.equal((await h.listRegions(nodes[1], 3)).placed, 0, 'no new region goes to a drained node')
  await nodes[1].command('drain 3', /node 3 hosts no regions \(drained or down\)/)
  const back = await nodes[1].command('undrain 3', /Node 3 takes regions again: moved (\d+) of (\d+) regions to it/, { timeout: 60000 })
  assert.ok(Number(back[1]) > 0 && back[1] === back[2], back[0])
  await h.waitFor(async () => (await h.listRegions(nodes[1], 3)).placed > 0, { timeout: 10000, message: 'node 3 to own regions again' })
  assert.ok(!walker.isEnded, 'the player on the drained node stayed connected')
  process.stdout.write(`# ${drained[0]}; ${back[0]}\n`)
  walker.quit()
  fx.clients.delete(walker)
})

test('time and weather set on one node are shown by every node', { timeout: 60000 }, async () => {
  const a = await fx.join(nodes[1], 'SkyOne')
  const b = await fx.join(nodes[3], 'SkyThree')
  await nodes[2].command('time set 13000', /Set the time to 13000/)
  await nodes[2].command('weather rain', /Set the weather to rain/)
  for (const bot of [a, b]) {
    await h.waitFor(() => bot.time.timeOfDay >= 13000 && bot.time.timeOfDay < 13600 && bot.isRaining, { timeout: 8000, message: () => `${bot.username} to see night and rain (time ${bot.time.timeOfDay}, raining ${bot.isRaining})` })
  }
  await nodes[1].command('weather clear', /Set the weather to clear/)
  await h.waitFor(() => !a.isRaining && !b.isRaining, { timeout: 8000, message: 'the rain to stop everywhere' })
  for (const bot of [a, b]) { bot.quit(); fx.clients.delete(bot) }
})

test('SIGTERM while a player on the node builds: regions move to the others, the player is told, exit 0 within the grace period, nothing confirmed is lost', { timeout: 150000 }, async () => {
  const bot = await fx.join(nodes[2], 'StoppedBuilder', { op: true })
  const kicked = new Promise((resolve) => bot.once('kicked', (reason) => resolve(typeof reason === 'string' ? reason : JSON.stringify(reason))))
  const area = await regionOf(nodes[1], 2)
  const owned = (await h.listRegions(nodes[1], 2)).placed
  let signalled = 0
  const ledger = await buildAcross(nodes[2], bot, area, async () => {
    signalled = Date.now()
    nodes[2].child.kill('SIGTERM')
  })
  const exit = await h.withTimeout(nodes[2].exited, (GRACE + 10) * 1000, 'node 2 to exit after SIGTERM')
  const took = (Date.now() - signalled) / 1000
  assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}`)
  assert.ok(took < GRACE + 5, `node 2 took ${took} s to stop`)
  assert.match(await h.withTimeout(kicked, 5000, 'the kick reason'), /Server closed/)
  const handed = nodes[2].output.match(/handed this node's regions to live peers owned=(\d+) moved=(\d+) failed=(\d+)/)
  assert.ok(handed, `node 2 did not hand its regions over:\n${nodes[2].tail(30)}`)
  await h.waitFor(async () => (await h.listRegions(nodes[1], 2)).placed === 0, { timeout: 10000, message: 'node 2 to own nothing' })
  const owner = (await h.listRegions(nodes[1])).map.get(area.name)
  assert.ok(owner === 1 || owner === 3, `${area.name} is on node ${owner}`)
  const kept = await check(nodes[1], 'StopChecker', area, ledger, 'after node 2\'s SIGTERM')
  process.stdout.write(`# SIGTERM after ${ledger.confirmations} confirmations: node 2 owned ${owned} regions, moved ${handed[2]} (failed ${handed[3]}), exited 0 in ${took.toFixed(1)} s; ${kept} confirmed states found at node ${owner}\n`)
})

test('a node that joins takes a share of the live regions, players staying connected', { timeout: 120000 }, async () => {
  const stayer = await fx.join(nodes[1], 'ScaleStayer', { op: true })
  const total = (await h.listRegions(nodes[1])).placed
  ports[4] = await h.freePort()
  const started = Date.now()
  await startNode(4)
  let share = 0
  await h.waitFor(async () => {
    share = (await h.listRegions(nodes[1], 4)).placed
    return share > 0
  }, { timeout: 30000, interval: 500, message: 'the new node 4 to take regions' })
  await h.sleep(3000)
  share = (await h.listRegions(nodes[1], 4)).placed
  const took = (Date.now() - started) / 1000
  const fair = Math.floor(total / 3)
  assert.ok(share >= fair - 2, `node 4 took ${share} of ${total} regions; a fair share is ${fair}`)
  assert.ok(!stayer.isEnded, 'a player stays connected while regions move')
  const moved = nodes[4].output.match(/rebalanced live regions toward the node[^\n]*planned=(\d+) failed=(\d+)|planned=(\d+) failed=(\d+)[^\n]*rebalanced/)
  process.stdout.write(`# node 4 joined and owns ${share} of ${total} live regions ${took.toFixed(1)} s after it started (${moved ? moved[0] : 'no rebalance line'})\n`)
  stayer.quit()
  fx.clients.delete(stayer)
})
