'use strict'
// Creative inventory, placing and digging blocks (creative and survival), seen by
// every viewer and by bots joining later.
const assert = require('node:assert/strict')
const { Vec3 } = require('vec3')
const h = require('./harness')

const ctx = h.setupServer({ name: 'blocks', config: { server: { view_distance: 4 }, world: { region_size: 1 } } })

async function setGameMode (bot, mode) {
  if (bot.game.gameMode === mode) return
  const changed = h.waitFor(() => bot.game.gameMode === mode, { timeout: 5000, message: () => `${bot.label} game mode to become ${mode} (is ${bot.game.gameMode})` })
  bot.chat(`/gamemode ${mode}`)
  await changed
}

// Put `itemName` x64 in hotbar slot 0 (inventory slot 36) and hold it.
async function giveAndHold (bot, itemName) {
  const Item = require('prismarine-item')(bot.registry)
  const def = bot.registry.itemsByName[itemName]
  assert.ok(def, `no item ${itemName} in registry`)
  await bot.creative.setInventorySlot(36, new Item(def.id, 64))
  bot.setQuickBarSlot(0)
  await h.waitFor(() => bot.heldItem && bot.heldItem.name === itemName, { timeout: 3000, message: () => `${bot.label} to hold ${itemName} (holds ${bot.heldItem && bot.heldItem.name})` })
  // give the server a moment to process Set Creative Slot and Set Held Item before using it
  await h.sleep(200)
}

ctx.test('creative: A places a block; B sees it; C joining later gets it in its chunk data', async ({ bot }) => {
  const a = await bot('Placer', { op: true })
  const b = await bot('Watcher', { op: true })
  await setGameMode(a, 'creative')
  await giveAndHold(a, 'stone')
  const ref = new Vec3(2, -61, 0)
  const dest = new Vec3(2, -60, 0)
  assert.equal(h.blockName(a, ref), 'grass_block')
  assert.equal(h.blockName(b, dest), 'air')
  const seenByB = h.waitForEvent(b, `blockUpdate:${dest}`, { timeout: 8000, filter: (o, n) => n && n.name === 'stone', message: 'Watcher: block update to stone' })
  await a.placeBlock(a.blockAt(ref), new Vec3(0, 1, 0))
  assert.equal(h.blockName(a, dest), 'stone', 'Placer\'s own view after placeBlock')
  await seenByB
  assert.equal(h.blockName(b, dest), 'stone')
  // The server does not revert it a moment later.
  await h.sleep(1000)
  assert.equal(h.blockName(a, dest), 'stone', 'Placer\'s view 1 s later')
  assert.equal(h.blockName(b, dest), 'stone', 'Watcher\'s view 1 s later')

  // A second placement in another chunk (chunk -1,-1), with another item.
  const ref3 = new Vec3(-1, -61, -2)
  const dest3 = new Vec3(-1, -60, -2)
  await giveAndHold(a, 'oak_planks')
  const seen3 = h.waitForEvent(b, `blockUpdate:${dest3}`, { timeout: 8000, filter: (o, n) => n && n.name === 'oak_planks', message: 'Watcher: block update to oak_planks' })
  await a.placeBlock(a.blockAt(ref3), new Vec3(0, 1, 0))
  await seen3

  // C joins later and sees both in its chunk data.
  const c = await bot('Latecomer', { op: true })
  assert.equal(h.blockName(c, dest), 'stone', 'Latecomer\'s view of the placed stone (chunk data)')
  assert.equal(h.blockName(c, dest3), 'oak_planks', 'Latecomer\'s view of the placed planks (chunk data)')
  assert.equal(h.blockName(c, ref), 'grass_block')
})

ctx.test('creative: A digs a block instantly; B and a later bot see air', async ({ bot }) => {
  const a = await bot('Digger', { op: true })
  const b = await bot('Viewer', { op: true })
  await setGameMode(a, 'creative')
  const pos = new Vec3(-2, -61, 1)
  assert.equal(h.blockName(b, pos), 'grass_block')
  const seen = h.waitForEvent(b, `blockUpdate:${pos}`, { timeout: 8000, filter: (o, n) => n && n.name === 'air', message: 'Viewer: block update to air' })
  const t0 = Date.now()
  await a.dig(a.blockAt(pos))
  await seen
  assert.ok(Date.now() - t0 < 3000, `creative dig took ${Date.now() - t0} ms`)
  await h.sleep(1000)
  assert.equal(h.blockName(a, pos), 'air', 'Digger\'s own view 1 s later (server reverted the dig?)')
  assert.equal(h.blockName(b, pos), 'air', 'Viewer\'s view 1 s later')
  // dig the block under it too (dirt), creative
  const pos2 = pos.offset(0, -1, 0)
  const seen2 = h.waitForEvent(b, `blockUpdate:${pos2}`, { timeout: 8000, filter: (o, n) => n && n.name === 'air', message: 'Viewer: dirt to air' })
  await a.dig(a.blockAt(pos2))
  await seen2
  const c = await bot('LateViewer', { op: true })
  assert.equal(h.blockName(c, pos), 'air', 'LateViewer\'s chunk data at the dug grass')
  assert.equal(h.blockName(c, pos2), 'air', 'LateViewer\'s chunk data at the dug dirt')
  assert.equal(h.blockName(c, pos2.offset(0, -1, 0)), 'dirt', 'LateViewer\'s chunk data under the hole')
})

ctx.test('creative: placing then digging at a region border (region_size=1) is seen by a viewer in another region', async ({ bot }) => {
  const a = await bot('BorderA', { op: true })
  await setGameMode(a, 'creative')
  // move A next to the border between region x=0 (0..15) and x=1 (16..31)
  a.chat('/tp 15.5 -60 4.5')
  await h.waitFor(() => a.entity.position.distanceTo(new Vec3(15.5, -60, 4.5)) < 0.01, { timeout: 5000, message: () => `BorderA teleported to 15.5 -60 4.5 (is at ${a.entity.position})` })
  await a.waitForChunksToLoad()
  const b = await bot('BorderB', { op: true })
  b.chat('/tp 20.5 -60 8.5')
  await h.waitFor(() => b.entity.position.distanceTo(new Vec3(20.5, -60, 8.5)) < 0.01, { timeout: 5000, message: () => `BorderB teleported (is at ${b.entity.position})` })
  await b.waitForChunksToLoad()
  await giveAndHold(a, 'glass')
  const ref = new Vec3(16, -61, 4) // in region x=1
  const dest = new Vec3(16, -60, 4)
  const seen = h.waitForEvent(b, `blockUpdate:${dest}`, { timeout: 8000, filter: (o, n) => n && n.name === 'glass', message: 'BorderB: glass placed' })
  await a.placeBlock(a.blockAt(ref), new Vec3(0, 1, 0))
  await seen
  const gone = h.waitForEvent(b, `blockUpdate:${dest}`, { timeout: 8000, filter: (o, n) => n && n.name === 'air', message: 'BorderB: glass dug' })
  await a.dig(a.blockAt(dest))
  await gone
  await h.sleep(500)
  assert.equal(h.blockName(b, dest), 'air')
})

ctx.test('survival: digging grass by hand takes time, shows the break animation to others, and succeeds', async ({ bot }) => {
  const a = await bot('Miner', { op: true })
  const b = await bot('Onlooker', { op: true })
  await setGameMode(a, 'creative')
  await setGameMode(a, 'survival')
  assert.equal(a.game.gameMode, 'survival')
  const pos = new Vec3(1, -61, -2)
  assert.equal(h.blockName(a, pos), 'grass_block')
  const expectedMs = a.digTime(a.blockAt(pos))
  assert.ok(expectedMs >= 500 && expectedMs < 3000, `mineflayer expects ${expectedMs} ms to dig grass by hand`)
  const animations = []
  b._client.on('block_break_animation', (p) => {
    if (p.location.x === pos.x && p.location.y === pos.y && p.location.z === pos.z) animations.push(p.destroyStage)
  })
  const seen = h.waitForEvent(b, `blockUpdate:${pos}`, { timeout: 10000, filter: (o, n) => n && n.name === 'air', message: 'Onlooker: grass dug to air' })
  const t0 = Date.now()
  await a.dig(a.blockAt(pos))
  const took = Date.now() - t0
  await seen
  assert.ok(took >= expectedMs * 0.8, `survival dig finished in ${took} ms, expected about ${expectedMs} ms`)
  await h.sleep(1000)
  assert.equal(h.blockName(a, pos), 'air', 'Miner\'s view 1 s after digging (did the server revert the survival dig?)')
  assert.equal(h.blockName(b, pos), 'air', 'Onlooker\'s view 1 s after digging')
  assert.ok(animations.length > 0, 'Onlooker received no block break animation for the survival dig')
})

ctx.test('survival: a block cannot be broken instantly (a finish-digging packet sent at once is refused)', async ({ bot }) => {
  const a = await bot('Cheater', { op: true })
  const b = await bot('Judge', { op: true })
  await setGameMode(a, 'creative')
  await setGameMode(a, 'survival')
  const grass = new Vec3(-1, -61, 3)
  await a.lookAt(grass.offset(0.5, 0.5, 0.5), true)
  // start digging and immediately claim it is finished
  a._client.write('block_dig', { status: 0, location: grass, face: 1, sequence: 1 })
  a._client.write('block_dig', { status: 2, location: grass, face: 1, sequence: 2 })
  await h.sleep(1500)
  assert.equal(h.blockName(b, grass), 'grass_block', 'Judge sees the instantly "dug" grass as gone: the server accepted an instant survival dig')
  // the client state must have been corrected too if it changed
  assert.equal(h.blockName(a, grass), 'grass_block')
  a._client.write('block_dig', { status: 1, location: grass, face: 1, sequence: 3 })
})
