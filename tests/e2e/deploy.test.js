'use strict'
// deploy/netns-cluster.sh: three nodes in three network namespaces come up
// with one command, serve a bot through each node, keep serving with one
// node stopped, and tear down without leaving a namespace behind.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { test } = require('node:test')
const h = require('./harness')

const SCRIPT = path.join(h.REPO_ROOT, 'deploy', 'netns-cluster.sh')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-netns-cluster-'))
const env = { ...process.env, TESSERA_BIN: h.BIN, CLUSTER_DIR: dir }
function cluster (...args) {
  try {
    return execFileSync(SCRIPT, args, { env, encoding: 'utf8', timeout: 120000 })
  } catch (err) {
    throw new Error(`netns-cluster.sh ${args.join(' ')} failed (${err.status}): ${err.stdout}${err.stderr}`)
  }
}
const node = (i) => ({ host: `10.78.0.1${i}`, port: 25565 })

test('the namespace cluster comes up, serves a bot through each node, survives a node stopped, tears down', { timeout: 180000 }, async () => {
  const bots = []
  try {
    const started = Date.now()
    const up = cluster('up')
    process.stdout.write(`# ${up.trim()} (${Date.now() - started} ms with the script)\n`)
    assert.match(up, /cluster of 3 nodes ready/)
    for (const i of [1, 2, 3]) {
      const bot = await h.joinBot(node(i), `Via${i}`)
      bots.push(bot)
    }
    assert.match(cluster('status'), /node 1 at 10\.78\.0\.11: ready, 1 players[\s\S]*node 3 at 10\.78\.0\.13: ready, 1 players/)

    cluster('stop', '3')
    await h.withTimeout(bots[2].whenEnded, 30000, 'node 3\'s player to be disconnected by its stop')
    const late = await h.joinBot(node(1), 'AfterStop')
    bots.push(late)
    assert.ok(!bots[0].isEnded && !bots[1].isEnded, 'players on nodes 1 and 2 were disconnected')
    assert.match(cluster('status'), /node 3 at 10\.78\.0\.13: not ready/)
  } finally {
    for (const bot of bots) { try { bot.quit() } catch (_) {} }
    const down = cluster('down')
    process.stdout.write(`# ${down.trim()}\n`)
  }
  assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), /tnet\d/)
  fs.rmSync(dir, { recursive: true, force: true })
})
