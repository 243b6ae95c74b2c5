'use strict'
// A node wrongly believed dead: node 3 is frozen with SIGSTOP long enough for
// the others to declare it dead, so the regions of node 1 drop the players
// whose sessions node 3 holds. When node 3 runs again, its sessions find
// that the region holding their player has fallen silent and join the player
// again, and node 1 learns node 3's players anew: Sleeper reappears in
// Watcher's tab list and world and plays on, without reconnecting.
const assert = require('node:assert/strict')
const { test } = require('node:test')
const { Vec3 } = require('vec3')
const h = require('./harness')

const SECRET = 'e2e-pause-secret-0123456789'
const fx = h.clusterFixture('pause')

async function tpTo (bot, x, y, z) {
  bot.chat(`/tp ${x} ${y} ${z}`)
  const target = new Vec3(x, y, z)
  await h.waitFor(() => bot.entity.position.distanceTo(target) < 0.01, { timeout: 10000, message: () => `${bot.label} to be teleported to ${target} (is at ${bot.entity.position})` })
}

let n1, n3

test('three nodes', { timeout: 120000 }, async () => {
  const ports = { 1: await h.freePort(), 2: await h.freePort(), 3: await h.freePort() }
  const nodes = await Promise.all([1, 2, 3].map((id) => h.startClusterNode(id, ports, { secret: SECRET, shared: fx.shared, name: `pause-node${id}`, env: process.env.PAUSE_DEBUG ? { RUST_LOG: process.env.PAUSE_DEBUG } : {} })))
  fx.servers.push(...nodes)
  ;[n1, , n3] = nodes
  for (const s of nodes) await s.waitForOutput('this node hosts regions now', { timeout: 30000 })
  await h.waitFor(async () => {
    const out = await n1.command('nodes', /\d+ nodes; placement leader[^\n]*(\n[^\n]*){3}/, { timeout: 3000 }).catch(() => null)
    return out && (out[0].match(/Alive/g) || []).length === 3
  }, { timeout: 20000, message: 'node 1 to list three live nodes' })
})

test('a player of a node that was frozen and declared dead comes back into the world', { timeout: 120000 }, async () => {
  const watcher = await fx.join(n1, 'Watcher', { op: true })
  const sleeper = await fx.join(n3, 'Sleeper', { op: true })
  const out = await n1.command('regions 1', /r\.(-?\d+)\.(-?\d+) -> node 1/, { timeout: 5000 })
  const [x, z] = [Number(out[1]) * 16 + 8.5, Number(out[2]) * 16 + 8.5]
  await tpTo(watcher, x, -60, z)
  await tpTo(sleeper, x + 1, -60, z)
  const before = await h.waitForSeenPlayer(watcher, 'Sleeper', 15000)

  const frozen = n1.mark()
  n3.child.kill('SIGSTOP')
  try {
    await n1.waitForOutput(/node down|node 3[^\n]*(down|dead)/i, { since: frozen, timeout: 20000, message: 'node 1 to declare node 3 dead' })
    await h.waitFor(() => !watcher.entities[before.id], { timeout: 10000, message: 'Sleeper to leave the world while node 3 is taken for dead' })
  } finally {
    n3.child.kill('SIGCONT')
  }

  const back = await h.waitForSeenPlayer(watcher, 'Sleeper', 40000)
  assert.equal(back.id, before.id, 'Sleeper keeps its entity id')
  assert.ok(!sleeper.isEnded, 'Sleeper stayed connected')
  // It plays on: its moves reach the region again and Watcher sees them.
  await tpTo(sleeper, x + 3, -60, z + 2)
  await h.waitFor(() => {
    const seen = h.seenPlayer(watcher, 'Sleeper')
    return seen && seen.position.distanceTo(new Vec3(x + 3, -60, z + 2)) < 0.5
  }, { timeout: 15000, message: () => `Watcher to see Sleeper's move (sees it at ${h.seenPlayer(watcher, 'Sleeper')?.position})` })
})
