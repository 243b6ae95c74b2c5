'use strict'
// Nothing a player saw confirmed is lost when the server dies: a builder
// places and digs blocks as fast as a client may, the server is SIGKILLed
// at a random moment (in some rounds the instant a confirmation arrives),
// and after a restart every confirmed change is there and none that was
// refused or never confirmed shows up in its place. Also: a player's
// position and inventory survive a logout followed by SIGKILL.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { test } = require('node:test')
const { Vec3 } = require('vec3')
const h = require('./harness')
const builder = require('./builder')

// One world folder for every server of this file, stopped and removed after it.
const fx = h.clusterFixture('durability')
const { shared: dataDir, servers, clients } = fx
const PASSWORD = 'durable-password'

async function start (name) {
  const s = await h.startServer({ name, config: { world: { data_dir: dataDir, region_size: 2 }, auth: { require_login: true } } })
  servers.push(s)
  return s
}

// Joins through the login gate, as a player would.
async function player (server, name) {
  const bot = await h.joinBot(server, name)
  clients.add(bot)
  const prompt = await h.waitForMessage(bot, /Please (register|log in)/)
  const since = bot.chatLog.length
  bot.chat(/register/.test(prompt) ? `/register ${PASSWORD} ${PASSWORD}` : `/login ${PASSWORD}`)
  await h.waitForMessage(bot, /Successfully (registered|logged in)/, { since })
  return bot
}

// One round: build at (x, z) until the server is SIGKILLed (after
// `killAfter` confirmations, at once; or after `killAtMs`), restart, and
// check every position the builder touched.
async function round (server, { x, z, killAfter, killAtMs }) {
  const bot = await player(server, 'Builder')
  await builder.teleport(server, bot, x, z)
  await builder.creativeWithStone(server, bot)
  const ledger = new builder.Ledger(bot)
  let killed = false
  const kill = () => {
    if (killed) return
    killed = true
    server.child.kill('SIGKILL')
  }
  if (killAfter) ledger.onConfirmation((n) => { if (n >= killAfter) kill() })
  const timer = killAtMs ? setTimeout(kill, killAtMs) : null
  await builder.run(bot, builder.plan(x, z), ledger, { stop: () => killed })
  clearTimeout(timer)
  // A plan that finished before the kill point: kill now, the last
  // confirmations having just arrived.
  await h.sleep(300)
  kill()
  await h.withTimeout(bot.whenEnded, 10000, 'the builder to be disconnected by the kill')
  clients.delete(bot)
  assert.ok(ledger.confirmations >= 10, `only ${ledger.confirmations} confirmations before the kill`)
  // The socket closes before the process has let go of its files (the
  // register store's lock among them): restart only once it is gone.
  await h.withTimeout(server.exited, 5000, 'the killed server to exit')

  const restarted = await start('durability-restarted')
  const checker = await player(restarted, 'Checker')
  await builder.teleport(restarted, checker, x, z)
  const kept = builder.check(checker, ledger, `after SIGKILL at ${ledger.confirmations} confirmations`)
  checker.quit()
  clients.delete(checker)
  return { restarted, kept, confirmations: ledger.confirmations }
}

test('confirmed block changes survive SIGKILL at random moments', { timeout: 240000 }, async () => {
  let server = await start('durability')
  const setup = await player(server, 'Builder')
  server.send('op Builder')
  server.send('op Checker')
  await h.sleep(500)
  setup.quit()
  clients.delete(setup)
  const rounds = [
    { x: 40, z: 8, killAfter: 1 + Math.floor(Math.random() * 400) },
    { x: 80, z: 8, killAfter: 1 + Math.floor(Math.random() * 400) },
    { x: 120, z: 8, killAtMs: 300 + Math.floor(Math.random() * 1500) },
    { x: 160, z: 8, killAfter: 470 }
  ]
  let total = 0
  for (const r of rounds) {
    const { restarted, kept, confirmations } = await round(server, r)
    process.stdout.write(`# round at x=${r.x}: ${confirmations} confirmations, ${kept} confirmed states found after restart\n`)
    total += confirmations
    server = restarted
  }
  assert.ok(total >= 500, `only ${total} confirmations in all rounds`)
  const log = servers.map((s) => fs.readFileSync(s.logPath, 'utf8')).join('\n')
  assert.match(log, /journal replayed/, 'a restart replayed the journal')
})

test('a player\'s position and inventory survive logout and SIGKILL', { timeout: 90000 }, async () => {
  let server = servers[servers.length - 1]
  const bot = await player(server, 'Keeper')
  server.send('op Keeper')
  await h.sleep(300)
  await builder.teleport(server, bot, 12, -20)
  await builder.creativeWithStone(server, bot)
  bot.quit()
  await h.withTimeout(bot.whenEnded, 5000, 'Keeper to leave')
  clients.delete(bot)
  await h.sleep(500)
  server.child.kill('SIGKILL')
  await h.withTimeout(server.exited, 5000, 'the killed server to exit')
  server = await start('durability-after-logout')
  const back = await player(server, 'Keeper')
  await h.waitFor(() => back.entity.position.distanceTo(new Vec3(12.5, -60, -19.5)) < 0.5, { timeout: 10000, message: () => `Keeper back where it left (is at ${back.entity.position})` })
  await h.waitFor(() => back.inventory.slots[36] && back.inventory.slots[36].name === 'stone', { timeout: 5000, message: 'Keeper\'s stone back in its hotbar' })
})

test('save-all writes every region and says when it is on disk', { timeout: 60000 }, async () => {
  const server = servers[servers.length - 1]
  const bot = await player(server, 'Saver')
  server.send('op Saver')
  await h.sleep(300)
  await builder.creativeWithStone(server, bot)
  const ledger = new builder.Ledger(bot)
  await builder.run(bot, builder.plan(0, 0, { radius: 1, layers: 1 }).slice(0, 8), ledger)
  await h.waitFor(() => ledger.confirmations >= 8, { timeout: 10000, message: 'eight confirmations' })
  const out = await server.command('save-all', /Saved the game \((\d+) regions on disk\)/, { timeout: 15000 })
  assert.ok(Number(out[1]) >= 1, `save-all saved ${out[1]} regions`)
  const segments = fs.readdirSync(path.join(dataDir, 'journal'), { recursive: true }).filter((f) => String(f).endsWith('.log'))
  assert.ok(segments.length > 0, 'every region keeps a current journal segment')
})

// Invariant 5: a survival placement uses up the item in the same journal
// record as the block, so after a crash the stone in hand and the stone
// placed still add up to the stack the player had: no item comes back.
test('a survival player\'s used-up stone stays used up after SIGKILL', { timeout: 90000 }, async () => {
  let server = servers[servers.length - 1]
  const [x, z] = [208, 8] // the plan's columns all lie in one region
  const setup = await player(server, 'Mason')
  server.send('op Mason')
  await h.sleep(300)
  await builder.teleport(server, setup, x, z)
  await builder.creativeWithStone(server, setup)
  server.send('gamemode survival Mason')
  await h.waitFor(() => setup.game.gameMode === 'survival', { timeout: 5000, message: 'survival mode' })
  // Logging out saves the record with the full stack: the crash below
  // comes long before the next periodic save.
  setup.quit()
  await h.withTimeout(setup.whenEnded, 5000, 'Mason to leave')
  clients.delete(setup)
  await h.sleep(500)

  const bot = await player(server, 'Mason')
  await h.waitFor(() => bot.inventory.slots[36] && bot.inventory.slots[36].count === 64, { timeout: 5000, message: 'Mason holding 64 stone' })
  assert.equal(bot.game.gameMode, 'survival')
  await builder.teleport(server, bot, x, z)
  bot.setQuickBarSlot(0)
  const steps = builder.plan(x, z, { radius: 3, layers: 2 }).filter((s) => s.kind === 'place').slice(0, 40)
  const ledger = new builder.Ledger(bot)
  const killAfter = 10 + Math.floor(Math.random() * 25)
  let killed = false
  ledger.onConfirmation((n) => {
    if (n >= killAfter && !killed) {
      killed = true
      server.child.kill('SIGKILL')
    }
  })
  await builder.run(bot, steps, ledger, { every: 20, stop: () => killed })
  await h.waitFor(() => killed, { timeout: 10000, message: `${killAfter} confirmations` })
  await h.withTimeout(bot.whenEnded, 10000, 'Mason to be disconnected by the kill')
  clients.delete(bot)
  await h.withTimeout(server.exited, 5000, 'the killed server to exit')

  server = await start('durability-survival')
  const back = await player(server, 'Mason')
  await h.withTimeout(back.waitForChunksToLoad(), 20000, 'Mason\'s chunks')
  await h.sleep(1000)
  builder.check(back, ledger, 'after SIGKILL in survival')
  const placed = steps.filter((s) => { const b = back.blockAt(s.pos); return b && b.name === 'stone' }).length
  const slot = back.inventory.slots[36]
  const inHand = slot && slot.name === 'stone' ? slot.count : 0
  process.stdout.write(`# survival: ${ledger.confirmations} confirmations, ${placed} stone placed, ${inHand} in hand after restart\n`)
  assert.ok(placed >= killAfter, `only ${placed} of ${killAfter} confirmed placements kept`)
  assert.equal(inHand + placed, 64, `${inHand} stone in hand and ${placed} placed: not the 64 Mason had`)
  const log = fs.readFileSync(server.logPath, 'utf8')
  assert.match(log, /player record recovered from the journal|journaled player states checked/, 'the record came from the journal')
})
