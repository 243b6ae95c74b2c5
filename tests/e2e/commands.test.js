'use strict'
// In-game commands: /tp, /gamemode, /msg, /spawn, /list, /help and their aliases (the players are ops; permissions.test.js covers non-ops).
const assert = require('node:assert/strict')
const { Vec3 } = require('vec3')
const h = require('./harness')

const ctx = h.setupServer({ name: 'commands', config: { server: { view_distance: 4, max_players: 42 }, world: { region_size: 2 } } })

async function expectPosition (bot, target, message, timeout = 5000) {
  await h.waitFor(() => bot.entity.position.distanceTo(target) < 0.01, {
    timeout,
    message: () => `${message}: ${bot.label} at ${target} (is at ${bot.entity.position})`
  })
}

ctx.test('/tp <x> <y> <z> moves the bot (and others see it there)', async ({ bot }) => {
  const a = await bot('Tipper', { op: true })
  const b = await bot('Seer', { op: true })
  a.chat('/tp 10.5 -60 -7.5')
  await expectPosition(a, new Vec3(10.5, -60, -7.5), '/tp 10.5 -60 -7.5')
  const e = await h.waitForSeenPlayer(b, 'Tipper')
  await h.waitFor(() => e.position.distanceTo(new Vec3(10.5, -60, -7.5)) < 0.1, { timeout: 5000, message: () => `Seer to see Tipper at 10.5 -60 -7.5 (sees ${e.position})` })
  // integer coordinates are accepted too (vanilla centres them: x.5; accept either)
  a.chat('/tp 3 -60 4')
  await h.waitFor(() => {
    const p = a.entity.position
    return (Math.abs(p.x - 3) < 0.01 || Math.abs(p.x - 3.5) < 0.01) && Math.abs(p.y + 60) < 0.01 && (Math.abs(p.z - 4) < 0.01 || Math.abs(p.z - 4.5) < 0.01)
  }, { timeout: 5000, message: () => `/tp 3 -60 4 (is at ${a.entity.position})` })
  // the bot stays where it was put (server does not pull it back) and can walk from there
  await h.sleep(1000)
  const p = a.entity.position.clone()
  assert.ok(Math.abs(p.y + 60) < 0.01, `after /tp the bot is at y=${p.y}`)
  await h.walk(a, { toward: new Vec3(p.x, 0, p.z + 100), until: (x) => x.entity.position.z > p.z + 2, timeout: 5000 })
  // far teleport: chunks arrive there
  a.chat('/tp 300.5 -60 300.5')
  await expectPosition(a, new Vec3(300.5, -60, 300.5), 'far /tp')
  await h.withTimeout(a.waitForChunksToLoad(), 15000, 'chunks at the far teleport destination')
  assert.equal(h.blockName(a, new Vec3(300, -61, 300)), 'grass_block')
  await h.sleep(1000)
  assert.ok(Math.abs(a.entity.position.y + 60) < 0.01, `after far /tp the bot is at y=${a.entity.position.y} (fell?)`)
})

ctx.test('/tp <player> moves the bot to that player', async ({ bot }) => {
  const a = await bot('Follower', { op: true })
  const b = await bot('Leader', { op: true })
  b.chat('/tp -20.5 -60 15.5')
  await expectPosition(b, new Vec3(-20.5, -60, 15.5), 'Leader /tp')
  a.chat('/tp Leader')
  await expectPosition(a, new Vec3(-20.5, -60, 15.5), '/tp Leader')
  // a non-existent player: no crash, no disconnect, no move
  a.chat('/tp NoSuchPlayer')
  await h.sleep(1000)
  assert.ok(!a.isEnded, 'Follower was disconnected after /tp NoSuchPlayer')
  assert.ok(a.entity.position.distanceTo(new Vec3(-20.5, -60, 15.5)) < 0.01, `Follower moved after /tp NoSuchPlayer: ${a.entity.position}`)
})

ctx.test('/gamemode changes the game mode through all four modes', async ({ bot }) => {
  const a = await bot('Shifter', { op: true })
  assert.equal(a.game.gameMode, 'survival')
  for (const mode of ['creative', 'adventure', 'spectator', 'survival', 'creative']) {
    a.chat(`/gamemode ${mode}`)
    await h.waitFor(() => a.game.gameMode === mode, { timeout: 5000, message: () => `/gamemode ${mode} (game mode is ${a.game.gameMode})` })
  }
  // an invalid mode changes nothing and does not disconnect
  a.chat('/gamemode bogus')
  await h.sleep(1000)
  assert.equal(a.game.gameMode, 'creative')
  assert.ok(!a.isEnded)
  // the mode sticks: a moment later it is still creative
  assert.equal(a.game.gameMode, 'creative')
})

ctx.test('/msg <player> <text> reaches only that player', async ({ bot }) => {
  const a = await bot('Sender', { op: true })
  const b = await bot('Target', { op: true })
  const c = await bot('Bystander', { op: true })
  const sinceB = b.chatLog.length
  const sinceC = c.chatLog.length
  a.chat('/msg Target secret words 42')
  const got = await h.waitForMessage(b, 'secret words 42', { since: sinceB })
  assert.ok(got.includes('Sender'), `Target's message does not name the sender: ${JSON.stringify(got)}`)
  await h.sleep(1000)
  const leaked = c.chatLog.slice(sinceC).filter((m) => m.includes('secret words 42'))
  assert.deepEqual(leaked, [], 'Bystander received the private message')
  // it is not a public chat message either
  assert.ok(!b.chatLog.slice(sinceB).some((m) => m === '<Sender> /msg Target secret words 42'), 'the command was broadcast as chat')
})

ctx.test('aliases run their command: /tell, /w and /teleport', async ({ bot }) => {
  const a = await bot('Alias', { op: true })
  const b = await bot('Aliased', { op: true })
  const since = b.chatLog.length
  a.chat('/tell Aliased told you so')
  a.chat('/w Aliased whispered too')
  await h.waitForMessage(b, 'told you so', { since })
  await h.waitForMessage(b, 'whispered too', { since })
  a.chat('/teleport 12.5 -60 9.5')
  await expectPosition(a, new Vec3(12.5, -60, 9.5), '/teleport 12.5 -60 9.5')
})

ctx.test('/spawn takes the bot back to the spawn point', async ({ bot }) => {
  const a = await bot('Homer', { op: true })
  a.chat('/tp 40.5 -60 40.5')
  await expectPosition(a, new Vec3(40.5, -60, 40.5), '/tp before /spawn')
  a.chat('/spawn')
  await expectPosition(a, new Vec3(0.5, -60, 0.5), '/spawn')
})

ctx.test('/list names the online players; /help lists the commands', async ({ bot }) => {
  const a = await bot('Lister', { op: true })
  const b = await bot('Listed', { op: true })
  await h.waitForSeenPlayer(a, 'Listed')
  // other tests' bots may take a moment to be removed: ask until the count is 2
  let all = ''
  await h.waitFor(async () => {
    const since = a.chatLog.length
    a.chat('/list')
    await h.sleep(700)
    all = a.chatLog.slice(since).join('\n')
    return /Listed/.test(all) && /Lister/.test(all) && /\b2\b/.test(all)
  }, { timeout: 8000, message: () => `a /list reply naming Lister and Listed with count 2 (last reply: ${JSON.stringify(all)})` })
  assert.match(all, /\b42\b/, `/list reply lacks max_players 42: ${all}`)
  void b
  const since2 = a.chatLog.length
  a.chat('/help')
  await h.waitForMessage(a, /tp/, { since: since2 })
  await h.sleep(500)
  const help = a.chatLog.slice(since2).join('\n')
  for (const cmd of ['tp', 'gamemode', 'msg', 'spawn', 'list']) {
    assert.ok(help.includes(cmd), `/help does not mention ${cmd}: ${help}`)
  }
})

ctx.test('an unknown command does not disconnect; chat still works', async ({ bot }) => {
  const a = await bot('Confused', { op: true })
  const b = await bot('Helper', { op: true })
  a.chat('/definitelynotacommand 1 2 3')
  a.chat('/tp')
  a.chat('/tp a b c')
  a.chat('/msg')
  await h.sleep(1000)
  assert.ok(!a.isEnded, `Confused was disconnected: ${a.endReason} ${JSON.stringify(a.kicks.map((k) => k.text))}`)
  const got = h.waitForEvent(b, 'chat', { timeout: 5000, filter: (u, m) => u === 'Confused' && m === 'still here', message: 'chat after unknown command' })
  a.chat('still here')
  await got
})
