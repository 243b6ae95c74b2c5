'use strict'
// Operator permissions in game: a non-op cannot /gamemode or /tp and is not
// offered them in its command tree; `op` on the console lets the same player
// run them at once and sends it a new tree, without rejoining; `deop` takes
// them away again. Ops run the moderation commands in game too.
const assert = require('node:assert/strict')
const { Vec3 } = require('vec3')
const h = require('./harness')

const ctx = h.setupServer({ name: 'permissions', config: { server: { view_distance: 2 } } })

// In the command table's order (net/src/command_table.rs).
// each command followed by its aliases (nodes that redirect to it), in the table's order
const OPEN = ['help', '?', 'list', 'msg', 'tell', 'w', 'spawn', 'register', 'reg', 'login', 'l', 'changepassword']
const CHEATS = ['tp', 'gamemode', 'say', 'time', 'weather', 'difficulty']
const MODERATION = ['kick', 'ban', 'ban-ip', 'pardon', 'pardon-ip', 'op', 'deop', 'whitelist', 'users']

function lastTree (bot) {
  return bot.commandTrees[bot.commandTrees.length - 1] || []
}

async function waitForTree (bot, since, test, message) {
  await h.waitFor(() => bot.commandTrees.length > since && test(lastTree(bot)), {
    timeout: 5000,
    message: () => `${message} (trees received: ${JSON.stringify(bot.commandTrees)})`
  })
}

async function refused (bot, line) {
  const since = bot.chatLog.length
  bot.chat(line)
  await h.waitForMessage(bot, /Unknown or incomplete command/, { since })
}

ctx.test('a non-op may not cheat; op lets it at once and sends a new tree; deop takes it away', async ({ createBot, server }) => {
  const bot = createBot('Pleb')
  // the op level the client is told (entity status 24 + level on its own entity), as vanilla does
  const levels = []
  let me = null
  bot._client.on('login', (p) => { me = p.entityId })
  bot._client.on('entity_status', (p) => { if (p.entityId === me && p.entityStatus >= 24 && p.entityStatus <= 28) levels.push(p.entityStatus - 24) })
  await h.withTimeout(bot.spawned, 20000, 'Pleb to spawn')
  await h.withTimeout(bot.waitForChunksToLoad(), 15000, 'Pleb chunks')
  assert.equal(bot.commandTrees.length, 1, 'one command tree at join')
  assert.deepEqual(lastTree(bot), OPEN, 'a non-op is offered only the open commands')
  assert.deepEqual(levels, [0], 'op level 0 at join')

  const start = bot.entity.position.clone()
  await refused(bot, '/gamemode creative')
  await refused(bot, '/tp 20.5 -60 20.5')
  await refused(bot, '/say hello')
  await refused(bot, '/op Pleb')
  await h.sleep(500)
  assert.equal(bot.game.gameMode, 'survival')
  assert.ok(bot.entity.position.distanceTo(start) < 0.01, `a refused /tp moved Pleb to ${bot.entity.position}`)
  const help = bot.chatLog.length
  bot.chat('/help')
  await h.waitForMessage(bot, /\/msg <player> <message>/, { since: help })
  assert.ok(!/gamemode/.test(bot.chatLog.slice(help).join('\n')), '/help offers a non-op /gamemode')

  // op on the console: the very next command is allowed (its level is read when it runs)
  const trees = bot.commandTrees.length
  await server.op('Pleb')
  bot.chat('/gamemode creative')
  await h.waitFor(() => bot.game.gameMode === 'creative', { timeout: 5000, message: () => `/gamemode creative after op (is ${bot.game.gameMode})` })
  await waitForTree(bot, trees, (t) => [...CHEATS, ...MODERATION].every((c) => t.includes(c)), 'a tree with the operator commands after op')
  assert.equal(levels[levels.length - 1], 4, `op level after op: ${levels}`)
  bot.chat('/tp 20.5 -60 20.5')
  await h.waitFor(() => bot.entity.position.distanceTo(new Vec3(20.5, -60, 20.5)) < 0.01, { timeout: 5000, message: () => `/tp after op (at ${bot.entity.position})` })

  // deop: the tree shrinks back and the commands are refused again
  const before = bot.commandTrees.length
  await server.command('deop Pleb', /Made Pleb no longer a server operator/)
  await refused(bot, '/gamemode survival')
  await waitForTree(bot, before, (t) => JSON.stringify(t) === JSON.stringify(OPEN), 'the open-only tree after deop')
  await h.sleep(300)
  assert.equal(bot.game.gameMode, 'creative', 'a refused /gamemode changed the mode')
  assert.equal(levels[levels.length - 1], 0, `op level after deop: ${levels}`)
  assert.ok(!bot.isEnded)
})

ctx.test('an op runs say, whitelist, ban and users in game, as the console does', async ({ bot, server }) => {
  const boss = await bot('Boss', { op: true })
  const other = await bot('Bystander')
  await h.waitFor(() => MODERATION.every((c) => lastTree(boss).includes(c)), { timeout: 5000, message: () => `Boss's tree: ${JSON.stringify(lastTree(boss))}` })
  const heard = other.chatLog.length
  boss.chat('/say order 66')
  await h.waitForMessage(other, '[Boss] order 66', { since: heard })
  let since = boss.chatLog.length
  boss.chat('/whitelist add Someone')
  await h.waitForMessage(boss, 'Added Someone to the whitelist', { since })
  await server.command('whitelist list', /whitelisted players: [^\n]*Someone/)
  since = boss.chatLog.length
  boss.chat('/users')
  await h.waitForMessage(boss, /There are \d+ registered users/, { since })
  boss.chat('/ban Bystander being nosy')
  await h.withTimeout(other.whenEnded, 10000, 'Bystander to be kicked by the ban')
  assert.ok(other.kicks.some((k) => /being nosy/.test(k.text)), `kick: ${JSON.stringify(other.kicks)}`)
  await server.command('pardon Bystander', /Unbanned Bystander/)
  await server.command('whitelist remove Someone', /Removed Someone/)
})
