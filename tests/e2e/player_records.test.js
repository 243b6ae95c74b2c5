'use strict'
// Player records in the register: where a player was, its game mode, held
// slot and inventory come back when it rejoins, after a server restart, and
// behind the login gate only once the player has logged in.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { test, after } = require('node:test')
const { Vec3 } = require('vec3')
const h = require('./harness')

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-e2e-records-'))
const servers = []
const clients = new Set()
let server

after(async () => {
  await h.quitAll(clients)
  for (const s of servers) {
    await s.close().catch(() => {})
    process.stdout.write(`# server log for ${s.name}: ${s.logPath}\n`)
  }
  fs.rmSync(dataDir, { recursive: true, force: true })
}, { timeout: 30000 })

async function start (name, auth = { require_login: false }) {
  const s = await h.startServer({ name, config: { world: { data_dir: dataDir }, auth } })
  servers.push(s)
  return s
}

async function join (name) {
  const bot = await h.joinBot(server, name)
  clients.add(bot)
  return bot
}

async function leave (bot) {
  bot.quit()
  await h.withTimeout(bot.whenEnded, 5000, `${bot.label} to leave`)
  clients.delete(bot)
}

function slot (bot, index) {
  const item = bot.inventory.slots[index]
  return item ? `${item.name} x${item.count}` : 'empty'
}

async function gameMode (bot, mode) {
  server.send(`gamemode ${mode} ${bot.username}`)
  await h.waitFor(() => bot.game.gameMode === mode, { timeout: 5000, message: () => `${bot.label} to be in ${mode} (is ${bot.game.gameMode})` })
}

async function nearly (bot, where, what) {
  await h.waitFor(() => bot.entity.position.distanceTo(where) < 0.3, {
    timeout: 5000,
    message: () => `${bot.label} ${what}: at ${where} (is at ${bot.entity.position})`
  })
}

let walkedTo

test('a player who quits comes back where it was, as it was', { timeout: 60000 }, async () => {
  server = await start('records')
  const bot = await join('Keeper')
  const spawn = bot.entity.position.clone()
  await h.walk(bot, { toward: spawn.offset(20, 0, 7), until: (b) => b.entity.position.distanceTo(spawn) > 6 })
  await h.waitFor(() => bot.entity.onGround, { timeout: 3000, message: 'Keeper to stand on the ground' })
  await gameMode(bot, 'creative')
  const Item = require('prismarine-item')(bot.registry)
  await bot.creative.setInventorySlot(38, new Item(bot.registry.itemsByName.diamond.id, 17))
  bot.setQuickBarSlot(2)
  await h.waitFor(() => bot.heldItem?.name === 'diamond', { timeout: 3000, message: 'Keeper to hold the diamonds' })
  await h.sleep(300) // the region takes Set Creative Slot and Set Held Item in its next tick
  walkedTo = bot.entity.position.clone()
  await leave(bot)

  // At once: the new login waits for the old session to save and free the name.
  const back = await join('Keeper')
  await nearly(back, walkedTo, 'rejoins where it left')
  assert.ok(back.entity.position.distanceTo(spawn) > 5, 'Keeper rejoined at spawn')
  assert.equal(back.game.gameMode, 'creative')
  assert.equal(slot(back, 38), 'diamond x17')
  assert.equal(back.quickBarSlot, 2)
  assert.equal(back.heldItem?.name, 'diamond')

  const other = await join('Newcomer')
  assert.ok(other.entity.position.distanceTo(spawn) < 1, `a first visit starts at spawn (${other.entity.position})`)
  assert.equal(other.game.gameMode, 'survival')
  assert.equal(other.inventory.items().length, 0)
  await leave(other)
})

test('the record survives a restart, and behind the login gate shows only after /register', { timeout: 60000 }, async () => {
  const bot = [...clients].find((c) => c.username === 'Keeper')
  await gameMode(bot, 'adventure')
  server.send(`tp Keeper ${walkedTo.x} ${walkedTo.y} ${walkedTo.z - 4}`)
  const moved = walkedTo.offset(0, 0, -4)
  await nearly(bot, moved, 'is teleported')
  await h.sleep(300)
  // Still online: the save on shutdown is what keeps the last state.
  const exit = await server.stop()
  assert.equal(exit.code, 0, `stop exit: ${JSON.stringify(exit)}`)
  await h.withTimeout(bot.whenEnded, 5000, 'Keeper to be disconnected by stop')
  clients.delete(bot)

  server = await start('records-restarted', { require_login: true })
  // Someone without the password comes and goes: nothing of theirs is saved.
  const impostor = await join('Keeper')
  await h.waitForMessage(impostor, /Please register/)
  await leave(impostor)

  const gated = await join('Keeper')
  await h.waitForMessage(gated, /Please register/)
  const spawn = new Vec3(0, gated.entity.position.y, 0)
  assert.ok(gated.entity.position.distanceTo(moved) > 3, `before login the saved position is not revealed (${gated.entity.position})`)
  assert.equal(gated.game.gameMode, 'survival', 'before login the saved game mode is not applied')
  assert.equal(gated.inventory.items().length, 0, 'before login the saved inventory is not revealed')
  assert.ok(gated.entity.position.distanceTo(spawn) < 2, `before login the player waits at spawn (${gated.entity.position})`)

  gated.chat('/register keeper-pass keeper-pass')
  await h.waitForMessage(gated, 'Successfully registered')
  await nearly(gated, moved, 'is put where it was before the restart')
  await h.waitFor(() => gated.game.gameMode === 'adventure', { timeout: 5000, message: () => `game mode restored (is ${gated.game.gameMode})` })
  await h.waitFor(() => slot(gated, 38) === 'diamond x17', { timeout: 5000, message: () => `inventory restored (slot 38: ${slot(gated, 38)})` })
  assert.equal(gated.quickBarSlot, 2)
})
