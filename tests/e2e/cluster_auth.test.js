'use strict'
// The authentication service of a three-node cluster: an account made
// through one node logs in through another, a ban issued on one node's
// console kicks the player from another node and holds everywhere, and
// logins keep working after one replica node is SIGKILLed; an op made on
// one node's console holds at once for a player on another.
const assert = require('node:assert/strict')
const { test } = require('node:test')
const h = require('./harness')

const SECRET = 'e2e-cluster-auth-secret-0123456789'
const fx = h.clusterFixture('cluster-auth')
const { shared, servers, clients } = fx
const join = fx.join
let n1, n2, n3

async function leave (bot) {
  bot.quit()
  await h.withTimeout(bot.whenEnded, 5000, `${bot.label} to leave`)
  clients.delete(bot)
}

test('three nodes with the login gate', { timeout: 120000 }, async () => {
  const ports = { 1: await h.freePort(), 2: await h.freePort(), 3: await h.freePort() }
  const options = (id) => ({ secret: SECRET, shared, name: `auth-node${id}`, config: { auth: { require_login: true } } })
  ;[n1, n2, n3] = await Promise.all([1, 2, 3].map((id) => h.startClusterNode(id, ports, options(id))))
  servers.push(n1, n2, n3)
  for (const s of servers) await s.waitForOutput('this node hosts regions now', { timeout: 30000 })
})

test('an account made through node 1 logs in through node 3', { timeout: 60000 }, async () => {
  const first = await join(n1, 'Roamer')
  await h.waitForMessage(first, /Please register/)
  first.chat('/register wanderlust wanderlust')
  await h.waitForMessage(first, 'Successfully registered')
  await leave(first)
  const again = await join(n3, 'Roamer')
  await h.waitForMessage(again, /Please log in: \/login/, { timeout: 15000 })
  again.chat('/login wanderlust')
  await h.waitForMessage(again, 'Successfully logged in')
})

test('a ban on node 2\'s console kicks the player from node 3 and holds on node 1', { timeout: 60000 }, async () => {
  const roamer = [...clients].find((c) => c.username === 'Roamer')
  await n2.command('ban Roamer spamming', /Banned Roamer/)
  await h.withTimeout(roamer.whenEnded, 10000, 'Roamer (on node 3) to be kicked by the ban issued on node 2')
  assert.ok(roamer.kicks.some((k) => /banned/i.test(k.text) && /spamming/.test(k.text)), `kick: ${JSON.stringify(roamer.kicks)}`)
  clients.delete(roamer)
  const rejoin = h.createBot(n1, 'Roamer', { allowNetworkErrors: true })
  await h.withTimeout(rejoin.whenEnded, 15000, 'the rejoin through node 1 to be refused')
  assert.ok(rejoin.kicks.some((k) => /banned/i.test(k.text)), `rejoin kick: ${JSON.stringify(rejoin.kicks)}`)
  await n1.command('pardon Roamer', /Unbanned Roamer/)
})

test('with one replica node SIGKILLed, accounts still register and log in', { timeout: 90000 }, async () => {
  await n2.kill()
  // Failover itself is measured in cluster.test.js; here the world must be
  // whole again before a player joins, so only the register is under test.
  let left
  await h.waitFor(async () => {
    const out = await n1.command('regions 2', /(\d+) regions placed/, { timeout: 3000 }).catch(() => null)
    left = out && Number(out[1])
    return left === 0
  }, { timeout: 30000, interval: 250, message: () => `node 2's regions to move (${left} still on node 2)` })
  const fresh = await join(n1, 'Latecomer')
  await h.waitForMessage(fresh, /Please register/, { timeout: 15000 })
  fresh.chat('/register persevere persevere')
  await h.waitForMessage(fresh, 'Successfully registered', { timeout: 15000 })
  await leave(fresh)
  const back = await join(n3, 'Latecomer')
  await h.waitForMessage(back, /Please log in/, { timeout: 15000 })
  back.chat('/login persevere')
  await h.waitForMessage(back, 'Successfully logged in', { timeout: 15000 })
})

test('with node 2 down, op on node 3\'s console lets a player on node 1 cheat at once, and users counts every account', { timeout: 60000 }, async () => {
  const climber = await join(n1, 'Climber')
  await h.waitForMessage(climber, /Please register/)
  climber.chat('/register upandaway upandaway')
  await h.waitForMessage(climber, 'Successfully registered')
  await n3.command('users', /There are 3 registered users/)
  let since = climber.chatLog.length
  climber.chat('/gamemode creative')
  await h.waitForMessage(climber, /Unknown or incomplete command/, { since })
  const trees = climber.commandTrees.length
  await n3.op('Climber')
  climber.chat('/gamemode creative')
  await h.waitFor(() => climber.game.gameMode === 'creative', { timeout: 5000, message: () => `Climber's /gamemode after op on node 3 (is ${climber.game.gameMode})` })
  await h.waitFor(() => climber.commandTrees.length > trees && climber.commandTrees[climber.commandTrees.length - 1].includes('gamemode'), { timeout: 5000, message: 'node 1 to send Climber a tree with /gamemode' })
  await n1.command('deop Climber', /no longer a server operator/)
  since = climber.chatLog.length
  climber.chat('/gamemode survival')
  await h.waitForMessage(climber, /Unknown or incomplete command/, { since })
  assert.equal(climber.game.gameMode, 'creative')
  await leave(climber)
})
