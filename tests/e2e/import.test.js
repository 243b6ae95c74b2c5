'use strict'
// `tessera import` and `tessera export` with the real binary: a vanilla 1.20.1 world written by
// independent implementations (prismarine-provider-anvil for the region files, prismarine-nbt for
// level.dat) is imported; a player then sees its blocks, stands on its spawn point and sees its
// time of day; the world exported after the server stopped reads back in prismarine, level.dat
// with the vanilla keys Tessera does not use still there.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')
const { spawnSync } = require('node:child_process')
const { test, after } = require('node:test')
const { Vec3 } = require('vec3')
const nbt = require('prismarine-nbt')
const h = require('./harness')

const VERSION = '1.20.1'
const { Anvil: anvilFor, level } = require('prismarine-provider-anvil')
const Anvil = anvilFor(VERSION)
const Chunk = require('prismarine-chunk')(VERSION)
const Block = require('prismarine-block')(VERSION)
const mcData = require('minecraft-data')(VERSION)

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-e2e-import-'))
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

// Spawn far from Tessera's default (0, 0), on stone ground Tessera's flat generator never makes.
const SPAWN = { x: 40, y: -60, z: 24 }
const DAY_TIME = 13000
const SEED = 424242
const GROUND = -61
// Chunks 0..4 x 0..3 around the spawn chunk (2, 1): 20 chunks in one region file, plus one
// chunk in r.-1.-1.mca, far from spawn.
const CHUNKS = []
for (let x = 0; x < 5; x++) for (let z = 0; z < 4; z++) CHUNKS.push([x, z])
CHUNKS.push([-3, -3])
const MARKS = [
  ...[0, 1, 2, 3].map((dy) => ({ pos: new Vec3(42, -60 + dy, 26), name: 'gold_block' })),
  { pos: new Vec3(37, -60, 20), name: 'diamond_block' },
  { pos: new Vec3(-40, -60, -40), name: 'emerald_block' }
]

function state (name) {
  return Block.fromProperties(name, {}, mcData.biomesByName.plains.id).stateId
}

function stoneChunk () {
  const chunk = new Chunk({ minY: -64, worldHeight: 384 })
  for (let x = 0; x < 16; x++) {
    for (let z = 0; z < 16; z++) {
      chunk.setBlockStateId(new Vec3(x, -64, z), state('bedrock'))
      for (let y = -63; y <= GROUND; y++) chunk.setBlockStateId(new Vec3(x, y, z), state('stone'))
    }
  }
  return chunk
}

const local = (pos) => new Vec3(((pos.x % 16) + 16) % 16, pos.y, ((pos.z % 16) + 16) % 16)
const chunkOf = (pos) => [Math.floor(pos.x / 16), Math.floor(pos.z / 16)]
const long = (v) => [Math.floor(v / 2 ** 32), v % 2 ** 32]
const fromLong = (v) => Array.isArray(v) ? v[0] * 2 ** 32 + (v[1] >>> 0) : Number(v)

// level.dat as vanilla 1.20.1 writes it, with a few keys Tessera has no use for.
function writeLevelDat (file) {
  const { comp, int, long: l, string, byte, list } = nbt
  const data = comp({
    DataVersion: int(3465),
    version: int(19133),
    LevelName: string('prismarine world'),
    SpawnX: int(SPAWN.x),
    SpawnY: int(SPAWN.y),
    SpawnZ: int(SPAWN.z),
    Time: l(long(777000)),
    DayTime: l(long(DAY_TIME)),
    WanderingTraderSpawnDelay: int(19200),
    GameRules: comp({ doDaylightCycle: string('false'), keepInventory: string('true') }),
    WorldGenSettings: comp({
      seed: l(long(SEED)),
      generate_features: byte(1),
      bonus_chest: byte(0),
      dimensions: comp({
        'minecraft:overworld': comp({
          type: string('minecraft:overworld'),
          generator: comp({ type: string('minecraft:flat'), settings: comp({ biome: string('minecraft:plains'), layers: list() }) })
        })
      })
    }),
    Version: comp({ Id: int(3465), Name: string('1.20.1'), Series: string('main'), Snapshot: byte(0) })
  })
  fs.writeFileSync(file, zlib.gzipSync(nbt.writeUncompressed(comp({ Data: data }))))
}

async function vanillaWorld (dir) {
  const regionDir = path.join(dir, 'region')
  fs.mkdirSync(regionDir, { recursive: true })
  const anvil = new Anvil(regionDir)
  const chunks = new Map(CHUNKS.map(([x, z]) => [`${x},${z}`, stoneChunk()]))
  for (const { pos, name } of MARKS) chunks.get(chunkOf(pos).join(',')).setBlockStateId(local(pos), state(name))
  for (const [key, chunk] of chunks) {
    const [x, z] = key.split(',').map(Number)
    await anvil.save(x, z, chunk)
  }
  await anvil.close()
  writeLevelDat(path.join(dir, 'level.dat'))
  fs.mkdirSync(path.join(dir, 'playerdata'))
  fs.writeFileSync(path.join(dir, 'playerdata', '0b5d2b4e-0000-0000-0000-000000000001.dat'), zlib.gzipSync(Buffer.from('not a player')))
  writePlayerDat(path.join(dir, 'playerdata', `${PIONEER_UUID}.dat`))
  // Vanilla keeps the names of its players beside the world folder.
  fs.writeFileSync(path.join(dir, '..', 'usercache.json'), JSON.stringify([{ name: 'Pioneer', uuid: PIONEER_UUID, expiresOn: '2027-01-01 00:00:00 +0000' }]))
}

// playerdata/<uuid>.dat as vanilla 1.20.1 writes it, with the keys Tessera reads.
const PIONEER_UUID = '7c9a3b1e-5d2f-4a6b-8c1d-2e3f4a5b6c7d'
const PIONEER_AT = { x: 12.5, y: -60, z: 20.5 }
function writePlayerDat (file) {
  const { comp, int, string, byte, list, double, float } = nbt
  const item = (slot, id, count) => ({ Slot: byte(slot), id: string(id), Count: byte(count) })
  const data = comp({
    DataVersion: int(3465),
    Pos: list(double([PIONEER_AT.x, PIONEER_AT.y, PIONEER_AT.z])),
    Rotation: list(float([90, 10])),
    playerGameType: int(0),
    SelectedItemSlot: int(2),
    Inventory: list(comp([item(2, 'minecraft:diamond', 5), item(9, 'minecraft:stone', 32), item(103, 'minecraft:iron_helmet', 1)]))
  })
  fs.writeFileSync(file, zlib.gzipSync(nbt.writeUncompressed(data)))
}

function configFile (dataDir) {
  const file = path.join(scratch, `config-${path.basename(dataDir)}.toml`)
  fs.writeFileSync(file, h.renderToml({ world: { data_dir: dataDir, generator: 'flat', region_size: 1 } }))
  return file
}

// Runs `tessera --config <config> <args>` to its end; stderr is not a terminal here.
function tessera (dataDir, ...args) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TESSERA_')))
  const run = spawnSync(h.BIN, ['--config', configFile(dataDir), ...args], { env, encoding: 'utf8', timeout: 120000 })
  return { code: run.status, out: run.stdout, err: run.stderr }
}

const dataDir = path.join(scratch, 'data')
const worldDir = path.join(scratch, 'vanilla')
const exported = path.join(scratch, 'exported')

test('a vanilla world imports: its blocks, spawn point and time of day are what a player gets', { timeout: 180000 }, async () => {
  await vanillaWorld(worldDir)
  const run = tessera(dataDir, 'import', worldDir)
  assert.equal(run.code, 0, `import failed:\n${run.out}\n${run.err}`)
  const summary = run.out.match(/imported (\d+) chunks from (\d+) region files in [\d.]+ s \((\d+) chunks\/s\)/)
  assert.ok(summary, `no summary line in:\n${run.out}`)
  assert.equal(Number(summary[1]), CHUNKS.length)
  assert.equal(Number(summary[2]), 2)
  assert.match(run.out, /level\.dat: spawn 40 -60 24, seed 424242/)
  assert.match(run.out, /imported 1 players from .*playerdata/)
  assert.match(run.out, /left out: .*0b5d2b4e-0000-0000-0000-000000000001\.dat: the NBT's root is not a compound/, 'the damaged player file is named')
  assert.ok(fs.existsSync(path.join(dataDir, 'region', 'r.0.0.mca')) && fs.existsSync(path.join(dataDir, 'region', 'r.-1.-1.mca')))

  const again = tessera(dataDir, 'import', worldDir)
  assert.notEqual(again.code, 0, 'a second import over the world must be refused')
  assert.match(again.err, /already holds a world .*--force/)

  const server = await h.startServer({ name: 'import', config: { world: { data_dir: dataDir, seed: 1 }, server: { view_distance: 3 } } })
  servers.push(server)
  assert.match(server.output, /the world's seed is 424242 from .*level\.dat, not world\.seed = 1/)
  assert.match(server.output, /the world's spawn is \(40, -60, 24\)/)

  const inUse = tessera(dataDir, 'export', path.join(scratch, 'too-early'))
  assert.notEqual(inUse.code, 0, 'an export while the server runs must be refused')
  assert.match(inUse.err, /in use by a running server/)

  const bot = await h.joinBot(server, 'Settler')
  clients.add(bot)
  await h.waitFor(() => bot.entity && bot.entity.position.distanceTo(new Vec3(SPAWN.x + 0.5, SPAWN.y, SPAWN.z + 0.5)) < 0.01,
    { timeout: 10000, message: () => `the bot at the imported spawn point (it is at ${bot.entity && bot.entity.position})` })
  for (const { pos, name } of MARKS.slice(0, 5)) await h.waitForBlock(bot, pos, name)
  // The vanilla player comes back where its playerdata had it, with its items.
  const pioneer = await h.joinBot(server, 'Pioneer')
  clients.add(pioneer)
  await h.waitFor(() => pioneer.entity && pioneer.entity.position.distanceTo(new Vec3(PIONEER_AT.x, PIONEER_AT.y, PIONEER_AT.z)) < 0.01,
    { timeout: 10000, message: () => `Pioneer where its playerdata had it (it is at ${pioneer.entity && pioneer.entity.position})` })
  await h.waitFor(() => pioneer.inventory.slots[38] && pioneer.inventory.slots[38].name === 'diamond' && pioneer.inventory.slots[38].count === 5,
    { timeout: 5000, message: () => `Pioneer's diamonds in hotbar slot 2 (slots: ${JSON.stringify(pioneer.inventory.slots.map((s, i) => s && `${i}:${s.name}x${s.count}`).filter(Boolean))})` })
  assert.equal(pioneer.inventory.slots[9] && pioneer.inventory.slots[9].count, 32, 'stone in the main inventory')
  assert.equal(pioneer.inventory.slots[5] && pioneer.inventory.slots[5].name, 'iron_helmet', 'the helmet in the head slot')
  assert.equal(pioneer.quickBarSlot, 2, 'the selected hotbar slot')
  assert.equal(h.blockName(bot, new Vec3(SPAWN.x, GROUND, SPAWN.z)), 'stone', 'the imported ground under the spawn')
  assert.equal(h.blockName(bot, new Vec3(10, GROUND, 60)), 'stone', 'imported chunk (0, 3)')
  await h.waitFor(() => bot.time.timeOfDay !== null, { timeout: 5000, message: 'a time update' })
  assert.equal(bot.time.doDaylightCycle, false, 'doDaylightCycle false from the imported game rules')
  assert.equal(bot.time.timeOfDay, DAY_TIME)
  assert.ok(bot.time.age >= 777000, `world age ${bot.time.age} runs on from level.dat's Time`)
  h.assertNoProtocolProblems()
  await h.quitAll(clients)
  const exit = await server.stop({ timeout: 30000 })
  assert.equal(exit.code, 0, `server exit ${JSON.stringify(exit)}`)
})

test('the world exported after stop opens in prismarine-provider-anvil with its level.dat', { timeout: 60000 }, async () => {
  const run = tessera(dataDir, 'export', exported)
  assert.equal(run.code, 0, `export failed:\n${run.out}\n${run.err}`)
  assert.match(run.out, /exported \d+ chunks in 2 region files/)
  assert.ok(!fs.existsSync(path.join(exported, 'journal')) && !fs.existsSync(path.join(exported, 'region', '.locks')), 'only vanilla files')
  const anvil = new Anvil(path.join(exported, 'region'))
  try {
    for (const { pos, name } of MARKS) {
      const [cx, cz] = chunkOf(pos)
      const chunk = await anvil.load(cx, cz)
      assert.ok(chunk, `no chunk ${cx},${cz} in the export`)
      assert.equal(chunk.getBlock(local(pos)).name, name, `block at ${pos}`)
      assert.equal(chunk.getBlock(new Vec3(1, GROUND, 1)).name, 'stone')
    }
  } finally {
    await anvil.close()
  }
  const data = await level.readLevel(path.join(exported, 'level.dat'))
  assert.equal(data.DataVersion, 3465)
  assert.deepEqual([data.SpawnX, data.SpawnY, data.SpawnZ], [SPAWN.x, SPAWN.y, SPAWN.z])
  assert.equal(fromLong(data.WorldGenSettings.seed), SEED)
  assert.equal(fromLong(data.DayTime), DAY_TIME, 'the day stood still (doDaylightCycle false)')
  assert.ok(fromLong(data.Time) > 777000, `Time ${JSON.stringify(data.Time)} ran on while the server ran`)
  assert.equal(data.WanderingTraderSpawnDelay, 19200, 'a vanilla key Tessera does not use is kept')
  assert.equal(data.GameRules.keepInventory, 'true')
  assert.equal(data.WorldGenSettings.dimensions['minecraft:overworld'].generator.type, 'minecraft:flat')
})
