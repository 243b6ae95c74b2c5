'use strict'
// The server console (stdin of the real process): list, say, kick, tp, gamemode, stop.
const assert = require('node:assert/strict')
const { Vec3 } = require('vec3')
const h = require('./harness')

const MAX = 17
const ctx = h.setupServer({ name: 'console', config: { server: { view_distance: 2, max_players: MAX }, world: { region_size: 2 } } })

const LIST_RE = /There are (\d+) of a max of (\d+) players online:?([^\n]*)/

// Type `list` until the output names exactly `names` (bounded); returns the parsed line.
async function expectList (server, names, timeout = 8000) {
  let last = null
  await h.waitFor(async () => {
    const since = server.mark()
    server.send('list')
    try {
      await server.waitForOutput(LIST_RE, { since, timeout: 2000 })
    } catch (_) {
      return false
    }
    const m = server.output.slice(since).match(LIST_RE)
    last = m[0]
    const listed = m[3].split(',').map((s) => s.trim()).filter(Boolean).sort()
    return Number(m[1]) === names.length && Number(m[2]) === MAX && JSON.stringify(listed) === JSON.stringify([...names].sort())
  }, { timeout, interval: 200, message: 'list output' }).catch(() => {
    assert.fail(`console 'list' should report ${names.length} of a max of ${MAX}: ${names.join(', ')}; last output: ${JSON.stringify(last)}`)
  })
  return last
}

ctx.test('console "list" with no players, then with two', async ({ bot, server }) => {
  await expectList(server, [])
  await bot('Alpha')
  await bot('Beta')
  const line = await expectList(server, ['Alpha', 'Beta'])
  assert.match(line, /^There are 2 of a max of 17 players online: (Alpha, Beta|Beta, Alpha)\s*$/)
})

ctx.test('console "say" reaches every player as "[Server] <text>"', async ({ bot, server }) => {
  const a = await bot('Gamma')
  const b = await bot('Delta')
  const sa = a.chatLog.length
  const sb = b.chatLog.length
  server.send('say Hello from the console 7')
  const ma = await h.waitForMessage(a, 'Hello from the console 7', { since: sa })
  const mb = await h.waitForMessage(b, 'Hello from the console 7', { since: sb })
  assert.equal(ma, '[Server] Hello from the console 7')
  assert.equal(mb, '[Server] Hello from the console 7')
})

ctx.test('console "kick <name> <reason>" and "kick <name>" (default reason)', async ({ bot, server }) => {
  const stay = await bot('Stayer')
  const k1 = await bot('Kicked1', { allowNetworkErrors: true })
  const k2 = await bot('Kicked2', { allowNetworkErrors: true })
  await h.waitForSeenPlayer(stay, 'Kicked1')
  const since = stay.chatLog.length
  server.send('kick Kicked1 Go away now')
  await h.withTimeout(k1.whenEnded, 10000, 'Kicked1 to be disconnected by the console kick')
  assert.ok(k1.kicks.length >= 1, 'Kicked1 was disconnected without a reason')
  assert.equal(k1.kicks[0].text.trim(), 'Go away now', `Kicked1's kick reason: ${JSON.stringify(k1.kicks[0].reason)}`)
  await h.waitForMessage(stay, 'Kicked1 left the game', { since })
  await h.waitFor(() => !stay.players.Kicked1, { timeout: 5000, message: 'Kicked1 to leave Stayer\'s tab list' })
  assert.ok(!k2.isEnded, 'Kicked2 was disconnected by "kick Kicked1"')

  server.send('kick Kicked2')
  await h.withTimeout(k2.whenEnded, 10000, 'Kicked2 to be disconnected')
  assert.ok(k2.kicks.length >= 1, 'Kicked2 was disconnected without a reason')
  assert.match(k2.kicks[0].text, /Kicked by an operator/, `Kicked2's kick reason: ${JSON.stringify(k2.kicks[0].reason)}`)
  assert.ok(!stay.isEnded, 'Stayer was disconnected')
  await expectList(server, ['Stayer'])
  // kicking somebody who is not online: no crash
  server.send('kick Nobody')
  await h.sleep(500)
  assert.ok(server.running)
  assert.ok(!stay.isEnded)
})

ctx.test('console "tp <name> <x> <y> <z>" and "gamemode <mode> <name>"', async ({ bot, server }) => {
  const a = await bot('Moved')
  const b = await bot('Unmoved')
  const before = b.entity.position.clone()
  server.send('tp Moved 25.5 -60 -13.5')
  await h.waitFor(() => a.entity.position.distanceTo(new Vec3(25.5, -60, -13.5)) < 0.01, { timeout: 5000, message: () => `console tp: Moved to 25.5 -60 -13.5 (is at ${a.entity.position})` })
  assert.ok(b.entity.position.distanceTo(before) < 0.01, 'console tp moved the wrong player')
  server.send('gamemode creative Moved')
  await h.waitFor(() => a.game.gameMode === 'creative', { timeout: 5000, message: () => `console gamemode: Moved creative (is ${a.game.gameMode})` })
  assert.equal(b.game.gameMode, 'survival', 'console gamemode changed the wrong player')
  server.send('gamemode adventure Moved')
  await h.waitFor(() => a.game.gameMode === 'adventure', { timeout: 5000, message: () => `console gamemode: Moved adventure (is ${a.game.gameMode})` })
})

ctx.test('console "stop": players get "Server closed", the process exits 0', async ({ bot, server }) => {
  const a = await bot('Last1', { allowNetworkErrors: true })
  const b = await bot('Last2', { allowNetworkErrors: true })
  server.send('stop')
  await h.withTimeout(Promise.all([a.whenEnded, b.whenEnded]), 10000, 'players to be disconnected by stop')
  for (const x of [a, b]) {
    assert.ok(x.kicks.length >= 1, `${x.label} was disconnected without a reason by stop`)
    assert.match(x.kicks[0].text, /Server closed/, `${x.label}'s reason: ${JSON.stringify(x.kicks[0].reason)}`)
  }
  const exit = await h.withTimeout(server.exited, 15000, 'the server process to exit after stop')
  assert.deepEqual(exit, { code: 0, signal: null }, 'exit status after stop')
  // nothing listens any more
  const net = require('node:net')
  const refused = await new Promise((resolve) => {
    const s = net.connect({ host: server.host, port: server.port })
    s.on('connect', () => { s.destroy(); resolve(false) })
    s.on('error', () => resolve(true))
  })
  assert.ok(refused, 'the port still accepts connections after the server exited')
})

// The harness keeps the console's stdin an open pipe, as a terminal or a
// container with `stdin_open` does: SIGTERM must not wait for a line.
ctx.test('SIGTERM with the console open: players get "Server closed", the process exits 0 at once', async () => {
  const server = await h.startServer({ name: 'console-sigterm' })
  try {
    assert.match(server.output, /Done \(\d+\.\d+s\)! Tessera \S+ for Minecraft 1\.20\.1: players connect to 127\.0\.0\.1:\d+, admin on http:\/\/127\.0\.0\.1:\d+, world in .*, a single node/)
    const bot = h.createBot(server, 'Termed', { allowNetworkErrors: true })
    await h.withTimeout(bot.spawned, 20000, 'Termed to spawn')
    const sent = Date.now()
    server.child.kill('SIGTERM')
    await h.withTimeout(bot.whenEnded, 10000, 'the player to be disconnected by SIGTERM')
    assert.match(bot.kicks.map((k) => k.text).join(' | '), /Server closed/)
    const exit = await h.withTimeout(server.exited, 10000, 'the server to exit after SIGTERM with stdin open')
    assert.deepEqual(exit, { code: 0, signal: null })
    process.stdout.write(`# SIGTERM to exit: ${Date.now() - sent} ms\n`)
  } finally {
    await server.close()
  }
})
