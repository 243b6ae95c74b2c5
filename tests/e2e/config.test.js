'use strict'
// Configuration: TESSERA_* environment overrides, the "listening on" line, the terrain generator.
const assert = require('node:assert/strict')
const { test, after } = require('node:test')
const { Vec3 } = require('vec3')
const h = require('./harness')

const servers = []
const clients = []
after(async () => {
  await h.quitAll(clients)
  for (const s of servers) await s.close()
})

async function start (opts) {
  const s = await h.startServer(opts)
  servers.push(s)
  return s
}

async function join (server, name) {
  const b = h.createBot(server, name)
  clients.push(b)
  await h.withTimeout(b.spawned, 20000, `${name} to spawn`)
  await h.withTimeout(b.waitForChunksToLoad(), 15000, `${name} chunks`)
  return b
}

function wrap (title, fn, timeout = 60000) {
  test(title, { timeout: timeout + 10000 }, async () => {
    const since = h.problemCount()
    try {
      await h.withTimeout(fn(), timeout, title)
      h.assertNoProtocolProblems(since, title)
    } catch (err) {
      const tails = servers.filter((s) => s.startedFor === title).map((s) => `--- ${s.logPath} ---\n${s.tail(30)}`).join('\n')
      err.message += `\n${tails}`
      throw err
    }
  })
}

wrap('TESSERA_SERVER_* environment variables override the config file', async () => {
  const configPort = await h.freePort()
  const envPort = await h.freePort()
  const s = await start({
    name: 'envoverride',
    config: { server: { bind: `127.0.0.1:${configPort}`, motd: 'from the file', max_players: 5 } },
    env: { TESSERA_SERVER_BIND: `127.0.0.1:${envPort}`, TESSERA_SERVER_MOTD: 'from the environment', TESSERA_SERVER_MAX_PLAYERS: '33' },
    bindOverride: `127.0.0.1:${envPort}`
  })
  s.startedFor = 'TESSERA_SERVER_* environment variables override the config file'
  assert.match(s.output, new RegExp(`listening on\\s+\\S*127\\.0\\.0\\.1:${envPort}`), 'the "listening on" line names the overridden address')
  const { mc } = h.lib()
  const status = await h.withTimeout(mc.ping({ host: '127.0.0.1', port: envPort, version: h.VERSION }), 5000, 'status ping on the overridden port')
  assert.equal(h.chatText(status.description), 'from the environment')
  assert.equal(status.players.max, 33)
  assert.equal(status.version.protocol, h.PROTOCOL)
  assert.equal(status.version.name, '1.20.1')
  const b = await join(s, 'EnvBot')
  assert.ok(Math.abs(b.entity.position.y + 60) < 0.01)
  b.quit()
  await h.withTimeout(b.whenEnded, 5000, 'EnvBot to quit')
  await s.stop()
  assert.deepEqual(s.exitInfo, { code: 0, signal: null })
})

wrap('the "listening on" line names the configured address; a bad config fails to start', async () => {
  const s = await start({ name: 'listenline' })
  s.startedFor = 'the "listening on" line names the configured address; a bad config fails to start'
  assert.match(s.output, new RegExp(`listening on\\s+\\S*127\\.0\\.0\\.1:${s.port}`))
  await s.stop()
  // a config with a bad value: the process exits non-zero instead of serving
  await assert.rejects(start({ name: 'badconfig', config: { server: { view_distance: 'lots' } }, startTimeout: 10000 }), /server did not start/)
})

// Samples the highest non-air block in a grid of columns around the bot.
function heightSample (bot) {
  const out = []
  for (let x = -24; x <= 24; x += 6) {
    for (let z = -24; z <= 24; z += 6) {
      let y = 319
      while (y > -64) {
        const b = bot.blockAt(new Vec3(x, y, z))
        if (b && b.name !== 'air' && b.name !== 'cave_air' && b.name !== 'void_air') break
        y--
      }
      const top = bot.blockAt(new Vec3(x, y, z))
      out.push(`${x},${z}:${y}:${top ? top.name : 'null'}`)
    }
  }
  return out
}

wrap('terrain generator: the bot lands on solid ground, chunk data parses, same seed gives the same world', async () => {
  const title = 'terrain generator: the bot lands on solid ground, chunk data parses, same seed gives the same world'
  const sample = async (seed, name) => {
    const s = await start({ name: `terrain-${seed}`, config: { server: { view_distance: 2 }, world: { generator: 'terrain', seed } } })
    s.startedFor = title
    const b = await join(s, name)
    await h.sleep(2500)
    const p = b.entity.position
    const under = b.blockAt(p.offset(0, -0.5, 0))
    const stable = b.entity.onGround || (under && under.name === 'water')
    assert.ok(stable, `terrain seed ${seed}: bot at ${p} is not on the ground 2.5 s after joining (block under: ${under && under.name})`)
    assert.ok(p.y > -64 && p.y < 320, `terrain seed ${seed}: bot at y=${p.y}`)
    const heights = heightSample(b)
    const names = new Set(heights.map((x) => x.split(':')[2]))
    const ys = new Set(heights.map((x) => x.split(':')[1]))
    b.quit()
    await s.stop()
    return { heights, names, ys }
  }
  const one = await sample(12345, 'Hiker1')
  assert.ok(one.ys.size >= 2, `terrain seed 12345 is flat: surface heights ${[...one.ys]}`)
  assert.ok(!one.heights.some((x) => x.endsWith(':null')), 'some sampled columns have no chunk data')
  const again = await sample(12345, 'Hiker2')
  assert.deepEqual(again.heights, one.heights, 'the same seed generated a different world')
  const other = await sample(999, 'Hiker3')
  assert.notDeepEqual(other.heights, one.heights, 'seeds 12345 and 999 generated the same world')
}, 120000)

wrap('the itzg image\'s variables carry over (MAX_PLAYERS, MOTD); a TESSERA_* variable wins; EULA is ignored', async () => {
  const s = await start({ name: 'itzg-env', env: { MAX_PLAYERS: '9', TESSERA_SERVER_MAX_PLAYERS: '7', MOTD: 'from an itzg env file', EULA: 'TRUE' } })
  s.startedFor = 'the itzg image\'s variables carry over (MAX_PLAYERS, MOTD); a TESSERA_* variable wins; EULA is ignored'
  const { mc } = h.lib()
  const status = await h.withTimeout(mc.ping({ host: '127.0.0.1', port: s.port, version: h.VERSION }), 5000, 'status ping')
  assert.equal(status.players.max, 7, 'TESSERA_SERVER_MAX_PLAYERS wins over MAX_PLAYERS')
  assert.equal(h.chatText(status.description), 'from an itzg env file')
  const b = await join(s, 'ItzgBot')
  b.quit()
  await s.stop()
  assert.deepEqual(s.exitInfo, { code: 0, signal: null })
})
