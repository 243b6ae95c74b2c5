'use strict'
// Measures what the foundation issue asks for: the join-to-spawn time of one
// bot, and the server's RSS with ten bots connected. Starts the real binary
// (TESSERA_BIN or target/release/tessera) with the default config on a free
// port and prints one JSON line.
//   node tests/measure/join_and_rss.js
const fs = require('node:fs')
const h = require('../e2e/harness')

function rssKb (pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(status.match(/VmRSS:\s+(\d+)/)[1])
}

async function main () {
  const server = await h.startServer({ name: 'measure', config: { server: { view_distance: 10 }, world: { generator: 'terrain', region_size: 32 } } })
  const bots = []
  try {
    const idleRss = rssKb(server.child.pid)
    const t0 = Date.now()
    const first = h.createBot(server, 'Timer')
    bots.push(first)
    await h.withTimeout(first.spawned, 30000, 'first bot to spawn')
    const joinToSpawnMs = Date.now() - t0
    await h.withTimeout(first.waitForChunksToLoad(), 30000, 'first bot chunks')
    const allChunksMs = Date.now() - t0
    for (let i = 1; i < 10; i++) {
      const bot = h.createBot(server, `Bot${i}`)
      bots.push(bot)
      await h.withTimeout(bot.spawned, 30000, `bot ${i} to spawn`)
    }
    await h.sleep(5000)
    const tenBotsRss = rssKb(server.child.pid)
    console.log(JSON.stringify({ joinToSpawnMs, joinToAllChunksMs: allChunksMs, viewDistance: 10, idleRssMb: +(idleRss / 1024).toFixed(1), tenBotsRssMb: +(tenBotsRss / 1024).toFixed(1) }))
  } finally {
    await h.quitAll(new Set(bots))
    await server.close()
  }
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1) })
