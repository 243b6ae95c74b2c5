'use strict'
// Three real nodes on one shared world folder. A player connected to node 1
// builds as fast as a client may in a region another node owns; that owner
// is SIGKILLed the instant a confirmation arrives, and once its regions
// have moved every confirmed change is there. Then an owner is SIGSTOPped
// past its lease while the builder sends more changes to it, and SIGCONTed
// after its regions moved: the changes it was sent late never show up,
// neither at the new owner nor at the owner after that (which replays the
// journal again), and nothing it confirmed is missing.
const assert = require('node:assert/strict')
const { test } = require('node:test')
const h = require('./harness')
const builder = require('./builder')

const SECRET = 'e2e-durability-secret-0123456789'
const fx = h.clusterFixture('durability-cluster')
const nodes = {}
let ports

async function startNode (id) {
  const server = await h.startClusterNode(id, ports, { secret: SECRET, shared: fx.shared, name: `durable-node${id}` })
  fx.servers.push(server)
  nodes[id] = server
  await server.waitForOutput('this node hosts regions now', { timeout: 30000 })
  return server
}

// A region of `owner` (by the console of `via`) not at spawn; the centre
// block of it, which the builder's square stays inside (region_size 1).
async function regionOf (via, owner, avoid = []) {
  const { map } = await h.listRegions(via, owner)
  const name = [...map.keys()].find((r) => !avoid.includes(r) && r !== 'r.0.0')
  assert.ok(name, `node ${owner} owns no region: ${JSON.stringify([...map])}`)
  const [x, z] = name.slice(2).split('.').map(Number)
  return { name, x: x * 16 + 8, z: z * 16 + 8 }
}

async function ownerOf (via, region) {
  let owner
  await h.waitFor(async () => {
    owner = (await h.listRegions(via)).map.get(region)
    return owner !== undefined
  }, { timeout: 10000, message: `an owner for ${region}` })
  return owner
}

async function movedOff (via, node, timeout = 30000) {
  await h.waitFor(async () => (await h.listRegions(via, node)).placed === 0, { timeout, interval: 250, message: `node ${node}'s regions to move` })
}

function check (server, name, area, ledger, label) {
  return builder.checkThrough(fx, server, name, area, ledger, label)
}

test('three nodes share one world folder', { timeout: 120000 }, async () => {
  ports = { 1: await h.freePort(), 2: await h.freePort(), 3: await h.freePort() }
  await Promise.all([1, 2, 3].map(startNode))
})

test('the owner SIGKILLed right after a confirmation: every confirmed block is there after failover', { timeout: 150000 }, async () => {
  const bot = await fx.join(nodes[1], 'Builder', { op: true })
  // Regions near spawn get owners as the builder's view loads them.
  const area = await regionOf(nodes[1], 3)
  await builder.teleport(nodes[1], bot, area.x, area.z)
  await builder.creativeWithStone(nodes[1], bot)
  const ledger = new builder.Ledger(bot)
  const killAfter = 100 + Math.floor(Math.random() * 300)
  let killed = false
  ledger.onConfirmation((n) => {
    if (n >= killAfter && !killed) {
      killed = true
      nodes[3].child.kill('SIGKILL')
    }
  })
  await builder.run(bot, builder.plan(area.x, area.z), ledger, { stop: () => killed })
  assert.ok(killed, `the plan ended before ${killAfter} confirmations (${ledger.confirmations})`)
  await movedOff(nodes[1], 3)
  assert.ok(!bot.isEnded, 'the builder, on node 1, stays connected')
  const kept = await check(nodes[2], 'Checker', area, ledger, `after node 3's SIGKILL at ${ledger.confirmations} confirmations`)
  process.stdout.write(`# ${ledger.confirmations} confirmations before node 3 died; ${kept} confirmed states found through node 2\n`)
  assert.ok(kept >= 50, `only ${kept} confirmed states checked`)
  bot.quit()
  fx.clients.delete(bot)
})

test('an owner SIGSTOPped past its lease: its late writes never show up, nothing it confirmed is missing', { timeout: 180000 }, async () => {
  await nodes[3].close()
  await startNode(3)
  const bot = await fx.join(nodes[1], 'Builder2', { op: true })
  const area = await regionOf(nodes[1], 2)
  await builder.teleport(nodes[1], bot, area.x, area.z)
  await builder.creativeWithStone(nodes[1], bot)
  const ledger = new builder.Ledger(bot)
  const stopAfter = 60 + Math.floor(Math.random() * 150)
  let stopped = false
  ledger.onConfirmation((n) => {
    if (n >= stopAfter && !stopped) {
      stopped = true
      nodes[2].child.kill('SIGSTOP')
      ledger.freeze()
    }
  })
  const steps = builder.plan(area.x, area.z)
  await builder.run(bot, steps, ledger, { stop: () => stopped })
  assert.ok(stopped, 'the plan ended before the stop')
  // Sent to the stopped owner: these must never take effect.
  const done = ledger.touched.size
  await builder.run(bot, steps.slice(done, done + 40), ledger)
  await movedOff(nodes[1], 2)
  nodes[2].child.kill('SIGCONT')
  await h.sleep(4000)
  const late = ledger.lateCount()
  const owner = await ownerOf(nodes[1], area.name)
  assert.notEqual(owner, 2)
  await check(nodes[1], 'Checker2', area, ledger, `at node ${owner} after node 2's SIGSTOP and SIGCONT`)
  // The next owner replays the journal again, the stale owner's segment included.
  const survivor = owner === 1 ? 3 : 1
  if (owner !== 1) bot.quit()
  await nodes[owner].kill()
  await movedOff(nodes[survivor], owner)
  const kept = await check(nodes[survivor], 'Checker3', area, ledger, `at the owner after node ${owner}'s SIGKILL`)
  process.stdout.write(`# SIGSTOP after ${ledger.confirmations} confirmations, ${late} changes sent late; ${kept} confirmed states found after two more owners\n`)
})
