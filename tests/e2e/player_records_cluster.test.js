'use strict'
// Player records in a three-node cluster: a player that quits through one
// node comes back through another at the same place, with the same game
// mode and inventory, placed in the region that owns that place.
const assert = require('node:assert/strict')
const { test } = require('node:test')
const { Vec3 } = require('vec3')
const h = require('./harness')

const SECRET = 'e2e-cluster-records-secret-0123456789'
const fx = h.clusterFixture('cluster-records')
const { shared, servers, clients } = fx
let n1, n3

test('three nodes', { timeout: 120000 }, async () => {
  const ports = { 1: await h.freePort(), 2: await h.freePort(), 3: await h.freePort() }
  const nodes = await Promise.all([1, 2, 3].map((id) => h.startClusterNode(id, ports, { secret: SECRET, shared, name: `records-node${id}` })))
  servers.push(...nodes)
  ;[n1, , n3] = nodes
  for (const s of nodes) await s.waitForOutput('this node hosts regions now', { timeout: 30000 })
})

test('a player that quits through node 1 comes back through node 3 as it was', { timeout: 60000 }, async () => {
  const bot = await fx.join(n1, 'Traveller')
  n1.send('gamemode creative Traveller')
  await h.waitFor(() => bot.game.gameMode === 'creative', { timeout: 5000, message: 'Traveller to be in creative' })
  const Item = require('prismarine-item')(bot.registry)
  await bot.creative.setInventorySlot(36, new Item(bot.registry.itemsByName.emerald.id, 9))
  // Several regions away from spawn (region_size 1), so likely another node's.
  const target = new Vec3(40.5, bot.entity.position.y, -24.5)
  n1.send(`tp Traveller ${target.x} ${target.y} ${target.z}`)
  await h.waitFor(() => bot.entity.position.distanceTo(target) < 0.01, { timeout: 10000, message: () => `Traveller to be teleported (is at ${bot.entity.position})` })
  await h.sleep(500)
  bot.quit()
  await h.withTimeout(bot.whenEnded, 5000, 'Traveller to leave')
  clients.delete(bot)

  const back = await fx.join(n3, 'Traveller')
  await h.waitFor(() => back.entity.position.distanceTo(target) < 0.3, { timeout: 5000, message: () => `Traveller back at ${target} (is at ${back.entity.position})` })
  assert.equal(back.game.gameMode, 'creative')
  const item = back.inventory.slots[36]
  assert.equal(item && `${item.name} x${item.count}`, 'emerald x9')
  // The region at the saved place has the player: others there see it.
  const n2 = servers[1]
  const watcher = await fx.join(n2, 'Watcher')
  n2.send(`tp Watcher ${target.x + 3} ${target.y} ${target.z}`)
  const seen = await h.waitForSeenPlayer(watcher, 'Traveller', 15000)
  await h.waitFor(() => seen.position.distanceTo(target) < 0.5, { timeout: 5000, message: () => `Watcher to see Traveller at ${target} (sees ${seen.position})` })
})
