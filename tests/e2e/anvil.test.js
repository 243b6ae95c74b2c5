'use strict'
// The world's files are vanilla Anvil: region files written by an independent
// implementation (prismarine-provider-anvil, 1.20.1) load into the server and
// players see their blocks; blocks players place are saved into region files
// that implementation reads back after the server stops.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { test, after } = require('node:test')
const { Vec3 } = require('vec3')
const h = require('./harness')

const VERSION = '1.20.1'
const { Anvil: anvilFor, level } = require('prismarine-provider-anvil')
const Anvil = anvilFor(VERSION)
const Chunk = require('prismarine-chunk')(VERSION)
const Block = require('prismarine-block')(VERSION)
const mcData = require('minecraft-data')(VERSION)

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-e2e-anvil-'))
const servers = []
const clients = new Set()

after(async () => {
  await h.quitAll(clients)
  for (const s of servers) {
    await s.close().catch(() => {})
    process.stdout.write(`# server log for ${s.name}: ${s.logPath}\n`)
  }
  fs.rmSync(scratch, { recursive: true, force: true })
}, { timeout: 30000 })

async function start (name, dataDir) {
  const s = await h.startServer({
    name,
    config: { world: { data_dir: dataDir, region_size: 1 }, server: { view_distance: 3 }, auth: { require_login: true } }
  })
  servers.push(s)
  return s
}

// A bot past the login gate, with the chunks around it loaded.
async function player (server, name) {
  const bot = await h.joinBot(server, name)
  clients.add(bot)
  await h.waitForMessage(bot, /Please register/)
  bot.chat('/register anvil-test anvil-test')
  await h.waitForMessage(bot, 'Successfully registered')
  return bot
}

function state (name, props = {}) {
  return Block.fromProperties(name, props, mcData.biomesByName.plains.id).stateId
}

// Vanilla's superflat under everything, so the player stands where Tessera's flat generator would put it.
function flatChunk () {
  const chunk = new Chunk({ minY: -64, worldHeight: 384 })
  const layers = [[-64, 'bedrock'], [-63, 'dirt'], [-62, 'dirt'], [-61, 'grass_block']]
  for (let x = 0; x < 16; x++) {
    for (let z = 0; z < 16; z++) {
      for (const [y, name] of layers) chunk.setBlockStateId(new Vec3(x, y, z), state(name))
    }
  }
  return chunk
}

// What prismarine writes, in world coordinates: a gold pillar, logs lying along x and z, stairs.
const WRITTEN = [
  ...[-60, -59, -58, -57, -56].map((y) => ({ pos: new Vec3(3, y, 3), name: 'gold_block', props: {} })),
  { pos: new Vec3(20, -60, 4), name: 'oak_log', props: { axis: 'x' } },
  { pos: new Vec3(21, -60, 4), name: 'oak_log', props: { axis: 'z' } },
  { pos: new Vec3(-5, -60, -5), name: 'oak_stairs', props: { facing: 'east', half: 'top', shape: 'straight', waterlogged: 'false' } },
  { pos: new Vec3(-20, -60, 8), name: 'diamond_block', props: {} }
]

function chunkOf (pos) {
  return [Math.floor(pos.x / 16), Math.floor(pos.z / 16)]
}

function local (pos) {
  return new Vec3(((pos.x % 16) + 16) % 16, pos.y, ((pos.z % 16) + 16) % 16)
}

function propsOf (block) {
  return Object.fromEntries(Object.entries(block.getProperties()).map(([k, v]) => [k, String(v)]))
}

test('a world written by prismarine-provider-anvil loads: a player sees its blocks', { timeout: 120000 }, async () => {
  const dataDir = path.join(scratch, 'imported')
  const regionDir = path.join(dataDir, 'region')
  fs.mkdirSync(regionDir, { recursive: true })
  const anvil = new Anvil(regionDir)
  const chunks = new Map()
  for (const { pos, name, props } of WRITTEN) {
    const key = chunkOf(pos).join(',')
    if (!chunks.has(key)) chunks.set(key, flatChunk())
    chunks.get(key).setBlockStateId(local(pos), state(name, props))
  }
  for (const [key, chunk] of chunks) {
    const [x, z] = key.split(',').map(Number)
    await anvil.save(x, z, chunk)
  }
  await anvil.close()
  assert.ok(fs.existsSync(path.join(regionDir, 'r.0.0.mca')) && fs.existsSync(path.join(regionDir, 'r.-1.-1.mca')))

  const server = await start('anvil-import', dataDir)
  const bot = await player(server, 'Importer')
  for (const { pos, name, props } of WRITTEN) {
    await h.waitForBlock(bot, pos, name)
    const seen = propsOf(bot.blockAt(pos))
    for (const [k, v] of Object.entries(props)) assert.equal(seen[k], v, `${name} at ${pos}: ${k} (has ${JSON.stringify(seen)})`)
  }
  assert.equal(h.blockName(bot, new Vec3(3, -55, 3)), 'air', 'above the pillar')
  assert.equal(h.blockName(bot, new Vec3(0, -61, 0)), 'grass_block', 'the imported ground')
  assert.ok(!/damaged chunk/.test(server.output), 'the server found damage in the imported files')
  await server.stop()
})

async function setGameMode (bot, mode) {
  if (bot.game.gameMode === mode) return
  const changed = h.waitFor(() => bot.game.gameMode === mode, { timeout: 5000, message: () => `${bot.label} to be in ${mode}` })
  bot.chat(`/gamemode ${mode}`)
  await changed
}

async function hold (bot, itemName) {
  const Item = require('prismarine-item')(bot.registry)
  await bot.creative.setInventorySlot(36, new Item(bot.registry.itemsByName[itemName].id, 64))
  bot.setQuickBarSlot(0)
  await h.waitFor(() => bot.heldItem && bot.heldItem.name === itemName, { timeout: 3000, message: () => `${bot.label} to hold ${itemName}` })
  await h.sleep(200)
}

test('blocks a player places are in region files prismarine-provider-anvil reads after stop', { timeout: 120000 }, async () => {
  const dataDir = path.join(scratch, 'played')
  const server = await start('anvil-export', dataDir)
  const bot = await player(server, 'Builder')
  await server.op('Builder')
  await setGameMode(bot, 'creative')
  // In chunk (0,0), and in chunk (-1,-1) of another region file.
  const placed = [
    { ref: new Vec3(2, -61, 1), face: new Vec3(0, 1, 0), item: 'gold_block', name: 'gold_block', props: {} },
    { ref: new Vec3(2, -60, 1), face: new Vec3(1, 0, 0), item: 'oak_log', name: 'oak_log', props: { axis: 'x' } },
    { ref: new Vec3(-2, -61, -3), face: new Vec3(0, 1, 0), item: 'diamond_block', name: 'diamond_block', props: {} }
  ]
  for (const p of placed) {
    p.pos = p.ref.plus(p.face)
    await hold(bot, p.item)
    await bot.placeBlock(bot.blockAt(p.ref), p.face)
    await h.waitForBlock(bot, p.pos, p.name)
  }
  // The server's own view of what it will save: properties as placed.
  assert.equal(propsOf(bot.blockAt(placed[1].pos)).axis, 'x')
  const exit = await server.stop({ timeout: 30000 })
  assert.equal(exit.code, 0, `server exit ${JSON.stringify(exit)}`)

  const anvil = new Anvil(path.join(dataDir, 'region'))
  try {
    for (const p of placed) {
      const [cx, cz] = chunkOf(p.pos)
      const chunk = await anvil.load(cx, cz)
      assert.ok(chunk, `no chunk ${cx},${cz} in ${path.join(dataDir, 'region')}`)
      const block = chunk.getBlock(local(p.pos))
      assert.equal(block.name, p.name, `block at ${p.pos} as prismarine reads it`)
      const props = propsOf(block)
      for (const [k, v] of Object.entries(p.props)) assert.equal(props[k], v, `${p.name} at ${p.pos}: ${k}`)
      assert.equal(chunk.getBlock(new Vec3(8, -61, 8)).name, 'grass_block', `the ground of chunk ${cx},${cz}`)
      assert.equal(chunk.getBlock(new Vec3(8, -64, 8)).name, 'bedrock', `the bottom of chunk ${cx},${cz}`)
    }
    const raw = await anvil.loadRaw(0, 0)
    assert.equal(raw.value.DataVersion.value, 3465)
    assert.equal(raw.value.Status.value, 'minecraft:full')
  } finally {
    await anvil.close()
  }
  // A level.dat as vanilla 1.20.1 writes it makes the folder a world vanilla and the tools open.
  const levelDat = await level.readLevel(path.join(dataDir, 'level.dat'))
  assert.equal(levelDat.DataVersion, 3465)
  assert.equal(levelDat.Version.Name, '1.20.1')
  assert.equal(levelDat.WorldGenSettings.dimensions['minecraft:overworld'].generator.type, 'minecraft:flat')
  assert.equal(levelDat.SpawnY, -60)
})
