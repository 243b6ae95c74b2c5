'use strict'
// Joining, the flat world as the bots see it, seeing each other, the tab list,
// join/leave messages, movement/head rotation/arm swing/sneaking, chat.
const assert = require('node:assert/strict')
const { Vec3 } = require('vec3')
const h = require('./harness')

const ctx = h.setupServer({ name: 'world', config: { server: { view_distance: 4, motd: 'world test' }, world: { region_size: 2 } } })

const FLAT_COLUMN = [
  [-64, 'bedrock'],
  [-63, 'dirt'],
  [-62, 'dirt'],
  [-61, 'grass_block'],
  [-60, 'air'],
  [-59, 'air']
]

ctx.test('two bots join and stand on the flat world generator\'s grass at the spawn column', async ({ bot }) => {
  const a = await bot('Ada')
  const b = await bot('Bob')
  for (const x of [a, b]) {
    const p = x.entity.position
    assert.ok(Math.abs(p.x - 0.5) < 0.01 && Math.abs(p.z - 0.5) < 0.01, `${x.label} spawned at ${p}, expected x=0.5 z=0.5`)
    assert.ok(Math.abs(p.y - (-60)) < 0.01, `${x.label} spawned at y=${p.y}, expected -60 (standing on grass at y=-61)`)
    const under = x.blockAt(p.offset(0, -1, 0))
    assert.ok(under, `${x.label} has no block data under its feet at ${p.offset(0, -1, 0)}`)
    assert.equal(under.name, 'grass_block', `${x.label} sees ${under.name} under its feet, expected grass_block`)
    assert.equal(x.game.gameMode, 'survival', `${x.label} game mode`)
    assert.equal(x.game.dimension, 'overworld', `${x.label} dimension (from Join Game)`)
    assert.equal(x.game.minY, -64, `${x.label} sees world min y ${x.game.minY} (dimension type in the registry codec)`)
    assert.equal(x.game.height, 384, `${x.label} sees world height ${x.game.height}`)
  }
  // The bots don't fall through the floor: client-side physics agree with the chunk data.
  await h.sleep(1500)
  for (const x of [a, b]) {
    assert.ok(Math.abs(x.entity.position.y - (-60)) < 0.01, `${x.label} moved to y=${x.entity.position.y} after 1.5 s (fell?)`)
    assert.ok(x.entity.onGround, `${x.label} is not on ground after 1.5 s`)
  }
})

ctx.test('chunk data: the generator\'s layers in many columns, across chunk and region borders and negative coordinates', async ({ bot }) => {
  const a = await bot('Cid')
  const columns = [[0, 0], [-1, -1], [15, 15], [16, 16], [-16, 5], [-17, -17], [31, -32], [33, 33], [-40, 40], [47, -47], [-50, -50], [60, 0], [0, -60]]
  // the bot helper waits for the 5x5 chunks around the bot; these reach out to chunk distance 4
  await h.waitFor(() => columns.every(([x, z]) => a.world.getColumn(Math.floor(x / 16), Math.floor(z / 16))), {
    timeout: 10000,
    message: () => `chunks of all sampled columns to arrive (missing: ${columns.filter(([x, z]) => !a.world.getColumn(Math.floor(x / 16), Math.floor(z / 16))).map(([x, z]) => `${x},${z}`).join(' ')})`
  })
  const problems = []
  for (const [x, z] of columns) {
    for (const [y, name] of FLAT_COLUMN) {
      const got = h.blockName(a, new Vec3(x, y, z))
      if (got !== name) problems.push(`(${x},${y},${z}): ${got} (expected ${name})`)
    }
  }
  assert.deepEqual(problems, [], 'blocks the bot sees that differ from the flat generator')
  // Sky above is air up to the build limit.
  for (const y of [0, 100, 319]) assert.equal(h.blockName(a, new Vec3(3, y, 3)), 'air', `block at y=${y}`)
})

ctx.test('chunks are sent around the player by view distance (4)', async ({ bot }) => {
  const a = await bot('Dee')
  const vd = 4
  const missing = []
  await h.waitFor(() => {
    missing.length = 0
    for (let cx = -vd; cx <= vd; cx++) {
      for (let cz = -vd; cz <= vd; cz++) {
        if (!a.world.getColumn(cx, cz)) missing.push(`${cx},${cz}`)
      }
    }
    return missing.length === 0
  }, { timeout: 10000, message: () => `all chunks within view distance ${vd} (missing ${missing.join(' ')})` })
  const cols = a.world.getColumns().map((c) => [Number(c.chunkX), Number(c.chunkZ)])
  const far = cols.filter(([cx, cz]) => Math.max(Math.abs(cx), Math.abs(cz)) > vd + 3)
  assert.deepEqual(far, [], `chunks sent far outside view distance ${vd}`)
})

ctx.test('a joining player appears for the others: tab list, join message, entity; leaving removes all three', async ({ bot }) => {
  const a = await bot('Eve')
  const since = a.chatLog.length
  const joined = h.waitForEvent(a, 'playerJoined', { timeout: 15000, filter: (p) => p.username === 'Fay', message: 'Eve: playerJoined Fay' })
  const b = await bot('Fay')
  await joined
  await h.waitForMessage(a, 'Fay joined the game', { since })
  // each sees the other's entity
  const fayForEve = await h.waitForSeenPlayer(a, 'Fay')
  const eveForFay = await h.waitForSeenPlayer(b, 'Eve')
  assert.equal(fayForEve.type, 'player')
  assert.equal(fayForEve.id, b.entity.id, 'entity id Eve sees for Fay differs from Fay\'s own entity id')
  assert.equal(eveForFay.id, a.entity.id, 'entity id Fay sees for Eve differs from Eve\'s own entity id')
  assert.ok(fayForEve.position.distanceTo(b.entity.position) < 0.5, `Eve sees Fay at ${fayForEve.position}, Fay is at ${b.entity.position}`)
  assert.ok(b.players.Eve, 'Fay\'s tab list lacks Eve (player already online when Fay joined)')
  assert.ok(b.players.Fay, 'Fay\'s tab list lacks herself')
  assert.equal(a.players.Fay.uuid, b.player.uuid, 'Fay\'s uuid in Eve\'s tab list differs from the uuid Fay got at login')

  // Fay leaves
  const since2 = a.chatLog.length
  const gone = h.waitForEvent(a, 'entityGone', { timeout: 10000, filter: (e) => e.id === fayForEve.id, message: 'Eve: entityGone for Fay' })
  const left = h.waitForEvent(a, 'playerLeft', { timeout: 10000, filter: (p) => p.username === 'Fay', message: 'Eve: playerLeft Fay' })
  b.quit()
  await Promise.all([gone, left])
  await h.waitForMessage(a, 'Fay left the game', { since: since2 })
  assert.equal(a.players.Fay, undefined, 'Fay is still in Eve\'s tab list')
})

ctx.test('A sees B walk, turn its head, swing its arm and sneak', async ({ bot }) => {
  const a = await bot('Gus')
  const b = await bot('Hal')
  const hal = await h.waitForSeenPlayer(a, 'Hal')
  const start = hal.position.clone()
  const bStart = b.entity.position.clone()
  let moves = 0
  const onMove = (e) => { if (e.id === hal.id) moves++ }
  a.on('entityMoved', onMove)
  // walk ~4 blocks toward +z (real movement, client physics)
  await h.walk(b, { toward: new Vec3(bStart.x, 0, bStart.z + 100), until: (x) => x.entity.position.z > bStart.z + 4, timeout: 10000 })
  await h.sleep(300)
  const bEnd = b.entity.position.clone()
  await h.waitFor(() => hal.position.distanceTo(b.entity.position) < 0.3, {
    timeout: 5000,
    message: () => `Gus's view of Hal (${hal.position}) to match Hal's position (${b.entity.position})`
  })
  a.off('entityMoved', onMove)
  assert.ok(hal.position.distanceTo(start) > 3.5, `Gus's view of Hal moved only ${hal.position.distanceTo(start).toFixed(2)} blocks (${start} -> ${hal.position}); Hal walked ${bStart} -> ${bEnd}`)
  assert.ok(moves >= 3, `only ${moves} movement updates for Hal while walking`)
  assert.ok(Math.abs(hal.position.y - (-60)) < 0.1, `Gus sees Hal at y=${hal.position.y}`)

  // head rotation
  const yaw = 1.0
  await b.look(yaw, 0.4, true)
  const norm = (r) => ((r % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI)
  const angleDiff = (x, y) => { const d = Math.abs(norm(x) - norm(y)); return Math.min(d, 2 * Math.PI - d) }
  await h.waitFor(() => hal.headYaw !== undefined && angleDiff(hal.headYaw, yaw) < 0.06, {
    timeout: 5000,
    message: () => `Gus to see Hal's head yaw ~${yaw} (sees headYaw=${hal.headYaw}, yaw=${hal.yaw})`
  })
  await h.waitFor(() => angleDiff(hal.yaw, yaw) < 0.06 && Math.abs(hal.pitch - 0.4) < 0.06, {
    timeout: 5000,
    message: () => `Gus to see Hal's body yaw ~${yaw} / pitch ~0.4 (sees yaw=${hal.yaw}, pitch=${hal.pitch})`
  })

  // arm swing
  const swing = h.waitForEvent(a, 'entitySwingArm', { timeout: 5000, filter: (e) => e.id === hal.id, message: 'Gus: entitySwingArm for Hal' })
  b.swingArm('right')
  await swing

  // sneaking (entity metadata shared flags bit 0x02)
  const crouch = h.waitForEvent(a, 'entityCrouch', { timeout: 5000, filter: (e) => e.id === hal.id, message: 'Gus: entityCrouch for Hal' })
  b.setControlState('sneak', true)
  await crouch
  const uncrouch = h.waitForEvent(a, 'entityUncrouch', { timeout: 5000, filter: (e) => e.id === hal.id, message: 'Gus: entityUncrouch for Hal' })
  b.setControlState('sneak', false)
  await uncrouch
})

ctx.test('a player\'s own movement, look and arm swing are not echoed back to it as entity packets', async ({ bot }) => {
  const a = await bot('Solo')
  const b = await bot('Mirror')
  await h.waitForSeenPlayer(b, 'Solo')
  // Packets that move/animate an entity: a vanilla server never sends them about the receiver itself
  // (mineflayer applies them to bot.entity, so its own position would drift).
  const names = ['rel_entity_move', 'entity_move_look', 'entity_look', 'entity_teleport', 'entity_head_rotation', 'animation', 'entity_equipment']
  const self = {}
  a._client.on('packet', (d, m) => {
    if (names.includes(m.name) && d && d.entityId === a.entity.id) self[m.name] = (self[m.name] || 0) + 1
  })
  const start = a.entity.position.clone()
  await h.walk(a, { toward: new Vec3(start.x, 0, start.z - 100), until: (x) => x.entity.position.z < start.z - 3, timeout: 8000 })
  await a.look(2.0, -0.3, true)
  a.swingArm('right')
  await h.sleep(1000)
  assert.deepEqual(self, {}, `packets about Solo's own entity (id ${a.entity.id}) sent to Solo`)
  // and the server agrees with the client on where it is: another bot sees it at the same place
  const seen = h.seenPlayer(b, 'Solo')
  assert.ok(seen && seen.position.distanceTo(a.entity.position) < 0.3, `Mirror sees Solo at ${seen && seen.position}, Solo is at ${a.entity.position}`)
})

ctx.test('walking speed is physical: 12 blocks take about 2.8 s (the server does not push the walker)', async ({ bot }) => {
  const a = await bot('Pacer')
  const start = a.entity.position.clone()
  const t0 = Date.now()
  await h.walk(a, { toward: new Vec3(start.x - 100, 0, start.z), until: (x) => x.entity.position.x < start.x - 12, timeout: 10000 })
  const took = (Date.now() - t0) / 1000
  // walking speed is ~4.3 blocks/s: 12 blocks take ~2.8 s
  assert.ok(took > 2.0, `the bot covered 12 blocks in ${took.toFixed(2)} s (${(12 / took).toFixed(1)} blocks/s; walking is ~4.3): its position is being moved by something else`)
  assert.ok(took < 6, `the bot needed ${took.toFixed(2)} s for 12 blocks (server corrections?)`)
})

ctx.test('chat: A\'s message reaches B (and A) as "<A> message"', async ({ bot }) => {
  const a = await bot('Ivy')
  const b = await bot('Jay')
  await h.waitForSeenPlayer(b, 'Ivy')
  const got = h.waitForEvent(b, 'chat', { timeout: 10000, filter: (u, m) => u === 'Ivy', message: 'Jay: chat from Ivy' })
  const echo = h.waitForEvent(a, 'chat', { timeout: 10000, filter: (u, m) => u === 'Ivy', message: 'Ivy: own chat broadcast back' })
  a.chat('hello from Ivy 123')
  const [username, message] = await got
  assert.equal(username, 'Ivy')
  assert.equal(message, 'hello from Ivy 123')
  const [, echoed] = await echo
  assert.equal(echoed, 'hello from Ivy 123')

  // and the other way, with non-ASCII text
  const got2 = h.waitForEvent(a, 'chat', { timeout: 10000, filter: (u) => u === 'Jay', message: 'Ivy: chat from Jay' })
  b.chat('héllo wörld ✓ 日本')
  const [u2, m2] = await got2
  assert.equal(u2, 'Jay')
  assert.equal(m2, 'héllo wörld ✓ 日本')
})

ctx.test('several bots chatting at once: every message reaches every bot exactly once', async ({ bot }) => {
  const names = ['Kit', 'Lou', 'Max', 'Ned']
  const bots = []
  for (const n of names) bots.push(await bot(n))
  const received = new Map(names.map((n) => [n, []]))
  for (const b of bots) b.on('chat', (u, m) => { if (names.includes(u)) received.get(b.username).push(`${u}:${m}`) })
  const expected = []
  for (let round = 0; round < 3; round++) {
    for (const b of bots) {
      const msg = `round ${round} from ${b.username}`
      expected.push(`${b.username}:${msg}`)
      b.chat(msg)
    }
    await h.sleep(100)
  }
  await h.waitFor(() => [...received.values()].every((l) => l.length >= expected.length), {
    timeout: 10000,
    message: () => `all ${expected.length} messages at every bot (got ${[...received.entries()].map(([n, l]) => n + '=' + l.length).join(' ')})`
  })
  await h.sleep(500)
  for (const [n, list] of received) {
    assert.deepEqual([...list].sort(), [...expected].sort(), `messages received by ${n}`)
    // per-sender order is preserved
    for (const s of names) {
      const mine = list.filter((x) => x.startsWith(s + ':'))
      assert.deepEqual(mine, expected.filter((x) => x.startsWith(s + ':')), `order of ${s}'s messages at ${n}`)
    }
  }
})
