'use strict'
// A register replica that lost its disk catches up before it serves, by
// itself (an empty store is rebuilt from the others unless every replica is
// empty, a new cluster), and then really holds what was written while it
// was gone.
//
// Why the test is built this way. The register is ABD over the replicas on
// nodes 1, 2 and 3 with quorums of two. An account registered while node 3 is
// SIGKILLed is durable on nodes 1 and 2 only. ABD has no anti-entropy: a
// node 3 restarted on its old disk does not fetch that key (a later read
// finds it on 1 and 2, a quorum, and need not write it back), and it does not
// have to, since every quorum contains node 1 or node 2. So "can log in after
// node 3 is back" alone would pass whether node 3 caught up or not; even
// killing node 1 afterwards proves nothing, because node 2 still has the key.
//
// Nor does an intact-disk restart show much: the cluster transport keeps
// each peer's messages queued while it is away and delivers them when it is
// back, so node 3 usually receives the writes it missed that way (a bounded
// queue, lost if the sender restarts: a help, not a guarantee).
//
// What does show it: one account ("Elder") is registered while all three
// nodes are up, so node 3 holds it on disk; then node 3 is SIGKILLed, a
// second account ("Phoenix") is registered, and node 3 comes back on an empty
// store (its register file deleted: a replacement disk), with no switch
// telling it so. Phoenix's updates may still arrive from the queues, but Elder's
// were delivered long ago to the disk that is gone: only the recovery can
// bring them back. Node 3 must refuse to count toward quorums (/readyz 503
// "register replica recovering") until it has copied the other replicas'
// state, and then /metrics' tessera_register_stored_keys, the keys a node's
// own replica holds on disk, must equal nodes 1 and 2's, read before anyone
// logs in (a read could write a key back to node 3). A node 3 that had not
// caught up would be short of Elder's keys. Finally node 2, an original
// holder, is SIGKILLed and Phoenix logs in through node 3: the only quorum
// left is {1, 3}, so node 3 is answering as a full replica. (Node 2 rather
// than node 1, which formed the placement group and likely leads it: the
// test is about the register, not about placement's leader failover.)
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { test } = require('node:test')
const h = require('./harness')

const SECRET = 'e2e-register-recover-secret-0123456789'
const fx = h.clusterFixture('register-recover')
const { shared, servers, clients } = fx
const nodes = {}
let ports

const options = (id, env = {}, extra = {}) => ({ secret: SECRET, shared, name: `recover-node${id}`, config: { auth: { require_login: true } }, env, ...extra })

async function storedKeys (server) {
  const response = await fetch(`${await h.adminUrl(server)}/metrics`)
  const match = (await response.text()).match(/^tessera_register_stored_keys (\d+)$/m)
  assert.ok(match, `${server.name} exports tessera_register_stored_keys`)
  return Number(match[1])
}

async function readyz (server) {
  const response = await fetch(`${await h.adminUrl(server)}/readyz`)
  return { status: response.status, body: (await response.text()).trim() }
}

// Waits until the live nodes have declared `id` down, so its regions have
// moved and players can be placed.
async function declaredDown (id, live) {
  await Promise.all(live.map((s) => s.waitForOutput(new RegExp(`node down.*node=${id}\\b`), { timeout: 15000 })))
}

async function leave (bot) {
  bot.quit()
  await h.withTimeout(bot.whenEnded, 5000, `${bot.label} to leave`)
  clients.delete(bot)
}

// A player placed in the world; the chunks around it are not waited for:
// right after a node dies its regions take a while to move, and logging in
// does not need them.
async function join (server, name) {
  const bot = h.createBot(server, name)
  clients.add(bot)
  await h.withTimeout(bot.spawned, 30000, `${bot.label} to spawn through ${server.name}`)
  return bot
}

async function register (server, name, password) {
  const bot = await join(server, name)
  await h.waitForMessage(bot, /Please register/, { timeout: 15000 })
  bot.chat(`/register ${password} ${password}`)
  await h.waitForMessage(bot, 'Successfully registered', { timeout: 15000 })
  await leave(bot)
}

// The keys each of `servers` holds, once they all hold the same number and
// more than `floor`: writes (leaving writes the player record) have settled.
async function settledKeys (servers, floor, what) {
  return h.waitFor(async () => {
    const counts = await Promise.all(servers.map(storedKeys))
    return counts.every((n) => n === counts[0]) && counts[0] > floor && counts[0]
  }, { timeout: 10000, message: what })
}

test('three nodes with the login gate', { timeout: 60000 }, async () => {
  ports = { 1: await h.freePort(), 2: await h.freePort(), 3: await h.freePort() }
  const started = await Promise.all([1, 2, 3].map((id) => h.startClusterNode(id, ports, options(id))))
  started.forEach((server, i) => { nodes[i + 1] = server })
  servers.push(...started)
  for (const s of started) await s.waitForOutput('this node hosts regions now', { timeout: 30000 })
})

test('a replica that lost its disk recovers, unprompted, what was registered while it was down, then serves', { timeout: 90000 }, async () => {
  await register(nodes[1], 'Elder', 'longbefore')
  const elder = await settledKeys([nodes[1], nodes[2], nodes[3]], 0, 'every replica to hold Elder\'s keys')

  await nodes[3].kill()
  await declaredDown(3, [nodes[1], nodes[2]])
  await register(nodes[1], 'Phoenix', 'ashes2ashes')
  const held = await settledKeys([nodes[1], nodes[2]], elder, 'nodes 1 and 2 to hold Phoenix\'s keys too')

  // Node 3 comes back on a replacement disk: its register store is gone.
  fs.rmSync(path.join(shared, 'register-3.redb'))
  nodes[3] = await h.startClusterNode(3, ports, options(3, {}, { waitReady: false }))
  servers.push(nodes[3])
  await nodes[3].waitForOutput(/register node starting.*recovering=true/, { timeout: 10000 })
  await h.waitFor(async () => (await readyz(nodes[3])).body === 'register replica recovering', {
    timeout: 5000, interval: 100, message: 'node 3 to report that its replica is recovering'
  })
  await h.waitFor(async () => (await readyz(nodes[3])).status === 200, {
    timeout: 30000, interval: 200, message: 'node 3 to be ready after recovering'
  })
  await nodes[3].waitForOutput('replica recovered its state from the others', { timeout: 1000 })
  assert.equal(await storedKeys(nodes[3]), held, 'node 3 holds every key nodes 1 and 2 hold, the new account\'s among them')
  assert.equal(await storedKeys(nodes[1]), held)
  assert.equal(await storedKeys(nodes[2]), held)
  assert.ok(held > elder, 'Phoenix added keys to Elder\'s')

  // With node 2 gone, the account's only quorum is nodes 1 and 3.
  const since = nodes[3].mark()
  await nodes[2].kill()
  await nodes[3].waitForOutput(/node down.*node=2\b/, { timeout: 15000, since })
  const again = await join(nodes[3], 'Phoenix')
  await h.waitForMessage(again, /Please log in: \/login/, { timeout: 20000 })
  again.chat('/login ashes2ashes')
  await h.waitForMessage(again, 'Successfully logged in', { timeout: 15000 })
})
