'use strict'
// The world's rules from the console and in game: time, weather, difficulty,
// msg, save-off / save-on, help and usage from the one command table, and
// what level.dat keeps of them for vanilla tools.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const nbt = require('prismarine-nbt')
const h = require('./harness')

const ctx = h.setupServer({ name: 'world-rules', config: { server: { view_distance: 2 }, world: { autosave_seconds: 1 } } })

// mineflayer keeps the time of day in 0..24000 and follows the
// world-time packet every second.
function dayTime (bot) { return bot.time.timeOfDay }

ctx.test('time set / add / query from the console move every player\'s sky', async ({ bot, server }) => {
  const a = await bot('Clocky')
  await server.command('time set 13000', /Set the time to 13000/)
  await h.waitFor(() => dayTime(a) >= 13000 && dayTime(a) < 13400, { timeout: 5000, message: () => `the bot's time of day near 13000 (is ${dayTime(a)})` })
  const q = await server.command('time query daytime', /The time is (\d+)/)
  assert.ok(Number(q[1]) >= 13000 && Number(q[1]) < 13400, q[0])
  await server.command('time add 1000', /Set the time to 14\d\d\d/)
  await h.waitFor(() => dayTime(a) >= 14000 && dayTime(a) < 14400, { timeout: 5000, message: () => `time add moved the bot's day (is ${dayTime(a)})` })
  await server.command('time set midnight', /Set the time to 18000/)
  await h.waitFor(() => dayTime(a) >= 18000 && dayTime(a) < 18400, { timeout: 5000, message: () => `midnight (is ${dayTime(a)})` })
  await server.command('time query day', /The time is \d+/)
  await server.command('time set soon', /Usage: time set <day\|noon\|night\|midnight\|<ticks>> \| add <ticks> \| query <daytime\|gametime\|day>/)
})

ctx.test('weather clear / rain / thunder, and weather for a while that clears by itself', async ({ bot, server }) => {
  const a = await bot('Rainy')
  assert.equal(a.isRaining, false)
  await server.command('weather thunder', /Set the weather to rain & thunder/)
  await h.waitFor(() => a.isRaining && a.thunderState > 0.9, { timeout: 5000, message: () => `thunder (raining ${a.isRaining}, thunder ${a.thunderState})` })
  await server.command('weather clear', /Set the weather to clear/)
  await h.waitFor(() => !a.isRaining, { timeout: 5000, message: 'the rain to stop' })
  await server.command('weather rain 3', /Set the weather to rain/)
  await h.waitFor(() => a.isRaining && a.thunderState < 0.1, { timeout: 5000, message: 'rain' })
  const late = await bot('LateForRain')
  assert.ok(late.isRaining, 'a player joining in the rain is shown the rain')
  await h.waitFor(() => !a.isRaining && !late.isRaining, { timeout: 8000, message: 'rain set for 3 s to clear by itself' })
  await server.command('weather snow', /Usage: weather <clear\|rain\|thunder> \[<seconds>\]/)
})

// minecraft-data decodes the difficulty as a name, which mineflayer then
// looks up as a number (and loses), so the test reads the packet itself.
async function joinSeeingDifficulty (createBot, name) {
  const b = createBot(name)
  b._client.on('difficulty', (p) => { b.difficulty = p.difficulty })
  await h.withTimeout(b.spawned, 20000, `${name} to spawn`)
  return b
}

ctx.test('difficulty: query, set, set again, and what a joining player is told', async ({ createBot, server }) => {
  const a = await joinSeeingDifficulty(createBot, 'Hardy')
  assert.equal(a.difficulty, 'normal', 'level.dat\'s default')
  await server.command('difficulty', /The difficulty is Normal/)
  await server.command('difficulty hard', /The difficulty has been set to Hard/)
  await h.waitFor(() => a.difficulty === 'hard', { timeout: 5000, message: () => `hard (is ${a.difficulty})` })
  await server.command('difficulty hard', /The difficulty did not change; it is already set to Hard/)
  const b = await joinSeeingDifficulty(createBot, 'Later')
  assert.equal(b.difficulty, 'hard')
  await server.command('difficulty insane', /Usage: difficulty \[<peaceful\|easy\|normal\|hard>\]/)
  await server.command('difficulty normal', /The difficulty has been set to Normal/)
})

ctx.test('msg from the console whispers to one player', async ({ bot, server }) => {
  const a = await bot('Whispered')
  const b = await bot('NotWhispered')
  const since = a.chatLog.length
  const sinceB = b.chatLog.length
  await server.command('msg Whispered psst over here', /You whisper to Whispered: psst over here/)
  assert.equal(await h.waitForMessage(a, 'psst', { since }), 'Server whispers to you: psst over here')
  await h.sleep(500)
  assert.ok(!b.chatLog.slice(sinceB).some((m) => m.includes('psst')), 'only the one player hears it')
  await server.command('msg Nobody hi', /No player was found named Nobody/)
  await server.command('msg', /Usage: msg <player> <message>/)
})

ctx.test('in game: an operator sets the time and weather; a player below level 2 cannot', async ({ bot, server }) => {
  const op = await bot('OpSky', { op: true })
  let since = op.chatLog.length
  op.chat('/time set noon')
  await h.waitForMessage(op, 'Set the time to 6000', { since })
  await h.waitFor(() => dayTime(op) >= 6000 && dayTime(op) < 6400, { timeout: 5000, message: () => `noon (is ${dayTime(op)})` })
  since = op.chatLog.length
  op.chat('/weather fog')
  assert.equal(await h.waitForMessage(op, 'Usage', { since }), 'Usage: /weather <clear|rain|thunder> [<seconds>]')
  const pleb = await bot('NoSky')
  since = pleb.chatLog.length
  pleb.chat('/weather rain')
  assert.match(await h.waitForMessage(pleb, 'Unknown or incomplete command', { since }), /\/weather rain/)
  since = pleb.chatLog.length
  pleb.chat('/stop')
  await h.waitForMessage(pleb, 'Unknown or incomplete command', { since })
  assert.ok(server.running, 'a player cannot stop the server')
  since = pleb.chatLog.length
  pleb.chat('/help')
  const help = await h.waitForMessage(pleb, '/msg <player> <message>', { since })
  assert.ok(!help.includes('/time'), `help offers a level-0 player only its commands: ${help}`)
})

ctx.test('console help lists every console command from the table', async ({ server }) => {
  const since = server.mark()
  server.send('help')
  await server.waitForOutput('stop', { since })
  await h.sleep(300)
  const out = server.output.slice(since)
  for (const usage of ['time set', 'weather <clear|rain|thunder>', 'difficulty', 'save-off', 'save-on', 'msg <player> <message>', 'handoff <r.x.z> <node id>', 'drain <node id>', 'undrain <node id>', 'whitelist on | off']) {
    assert.ok(out.includes(usage), `help lacks ${usage}:\n${out}`)
  }
  assert.ok(!out.includes('changepassword'), 'help does not offer the in-game account commands')
  await server.command('spawn', /spawn is typed in game/)
  await server.command('handoff r.0.0 2', /This node is not in a cluster/)
})

// The region file the bot's chunk is saved in, and when it was last written.
function regionFile (server) { return path.join(server.dir, 'data', 'region', 'r.0.0.mca') }
function mtime (file) { try { return fs.statSync(file).mtimeMs } catch (_) { return 0 } }

ctx.test('save-off stops region files being written while blocks still change; save-on and save-all write them', async ({ bot, server }) => {
  const a = await bot('Saver', { op: true })
  let since = a.chatLog.length
  a.chat('/gamemode creative')
  await h.waitFor(() => a.game.gameMode === 'creative', { timeout: 5000, message: 'creative' })
  const base = a.entity.position.floored().offset(0, -1, 0)
  const dig = async (dx) => {
    const pos = base.offset(dx, 0, 2)
    await a.dig(a.blockAt(pos), true)
    await h.waitForBlock(a, pos, 'air')
  }
  await dig(0)
  await h.waitFor(() => fs.existsSync(regionFile(server)), { timeout: 10000, message: `${regionFile(server)} to be written` })
  await h.sleep(2500)
  await server.command('save-off', /Automatic saving is now disabled/)
  await server.command('save-off', /Saving is already turned off/)
  await h.sleep(1500)
  const before = mtime(regionFile(server))
  await dig(1)
  await h.sleep(3000)
  assert.equal(mtime(regionFile(server)), before, 'no region file write while saving is off (autosave is every second)')
  await server.command('save-on', /Automatic saving is now enabled/)
  await h.waitFor(() => mtime(regionFile(server)) > before, { timeout: 8000, message: 'the autosave to write the region file again' })
  await server.command('save-off', /Automatic saving is now disabled/)
  await h.sleep(1500)
  const paused = mtime(regionFile(server))
  await dig(2)
  // The client shows air at once; the server's change follows within a tick or two.
  await h.sleep(1000)
  await server.command('save-all', /Saved the game/)
  assert.ok(mtime(regionFile(server)) > paused, 'save-all saves even with saving off')
  await server.command('save-on', /Automatic saving is now enabled/)
  since = a.chatLog.length
  a.chat('/save-off')
  await h.waitForMessage(a, 'Unknown or incomplete command', { since })
})

ctx.test('level.dat keeps the difficulty and weather under vanilla\'s keys', async ({ server }) => {
  await server.command('difficulty easy', /The difficulty has been set to Easy/)
  await server.command('weather thunder', /Set the weather to rain & thunder/)
  await server.command('save-all', /Saved the game/)
  const { parsed } = await nbt.parse(fs.readFileSync(path.join(server.dir, 'data', 'level.dat')))
  const data = nbt.simplify(parsed).Data
  assert.equal(data.Difficulty, 1)
  assert.equal(data.raining, 1)
  assert.equal(data.thundering, 1)
  await server.command('weather clear', /Set the weather to clear/)
})
