'use strict'
// Hostile input against the world (issue 16, finding 3): a client that
// claims far positions or digs at far spots must not make the server load
// chunks or start regions there, and regions nobody uses stop.
const assert = require('node:assert/strict')
const h = require('./harness')

const ctx = h.setupServer({ name: 'hostile-world', config: { world: { region_size: 2, region_idle_seconds: 2 } } })

async function gauges (server) {
  const text = await (await fetch(`${await h.adminUrl(server)}/metrics`)).text()
  const read = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)[1])
  return { chunks: read('tessera_chunks_loaded'), regions: read('tessera_regions') }
}

ctx.test('far position claims and far aborted digs load no chunks and start no regions there; unused regions stop', async ({ bot, server }) => {
  const cheat = await bot('Farjumper')
  await h.withTimeout(cheat.waitForChunksToLoad(), 20000, 'the cheat\'s chunks')
  await h.sleep(1000)
  const before = await gauges(server)
  const spots = [1e5, -2e5, 5e5, -1e6, 3e6, -7e6, 1e7, -2e7, 2.9e7, -2.9e7]
  for (let i = 0; i < 20; i++) {
    const far = spots[i % spots.length]
    cheat._client.write('position', { x: far, y: -60, z: i % 2 ? far : -far, onGround: true })
    await h.sleep(50)
  }
  for (let i = 0; i < 2000; i++) {
    const location = { x: 1000 + 64 * (i % 1000), y: -61, z: 64 * Math.floor(i / 1000) }
    cheat._client.write('block_dig', { status: 1, location, face: 1, sequence: i + 1 })
  }
  await h.sleep(2000)
  const after = await gauges(server)
  process.stdout.write(`# before: ${JSON.stringify(before)}, after 20 far jumps and 2,000 far aborted digs: ${JSON.stringify(after)}\n`)
  assert.ok(after.chunks <= before.chunks, `chunks ${before.chunks} -> ${after.chunks}`)
  assert.ok(after.regions <= before.regions, `regions ${before.regions} -> ${after.regions}`)
  assert.ok(!cheat.isEnded, 'the cheat was corrected, not kicked')

  cheat.quit()
  await cheat.whenEnded
  // Chunks unload 30 s after their last viewer; their regions stop 2 s
  // (world.region_idle_seconds) after that.
  await h.waitFor(async () => (await gauges(server)).regions === 0, { timeout: 60000, interval: 1000, message: 'every region to stop once nobody is there' })
  assert.match(server.output, /idle region stopped/)
  // A region that stopped starts again when it is needed.
  const back = await bot('Returner')
  await h.withTimeout(back.waitForChunksToLoad(), 20000, 'the returner\'s chunks')
  assert.ok((await gauges(server)).regions > 0)
}, { timeout: 120000 })
