'use strict'
// Measures what the death of the placement leader costs the rest of the
// world. Three real tessera nodes form a cluster; a raw client joined through
// each node keeps regions loaded on all of them. The script polls every
// survivor's /metrics (tessera_tick_duration_seconds_count: region ticks so
// far) every 20 ms, SIGKILLs the placement leader, and reports per survivor
// the longest stretch in which none of its regions ticked (the pause: leases
// expire while no leader can renew them), and when the dead leader's regions
// were reassigned (a new leader waits out the old leases first).
//   TESSERA_BIN=target/release/tessera node tests/measure/leader_death_pause.js [runs]
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const h = require('../e2e/harness')

const SECRET = 'measure-leader-death-secret-0123456789'
const RUNS = Number(process.argv[2] || 3)
const POLL_MS = 20
const AFTER_MS = 15000

async function ticks (url) {
  const text = await (await fetch(`${url}/metrics`)).text()
  const match = text.match(/^tessera_tick_duration_seconds_count(?:\{[^}]*\})? (\d+)$/m)
  return match ? Number(match[1]) : null
}

async function leaderOf (server) {
  const out = await server.command('nodes', /placement leader: (?:Some\()?(?:NodeId\()?(\d+)/, { timeout: 5000 })
  return Number(out[1])
}

async function run (index) {
  const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-leader-death-'))
  const ports = { 1: await h.freePort(), 2: await h.freePort(), 3: await h.freePort() }
  const nodes = await Promise.all([1, 2, 3].map((id) => h.startClusterNode(id, ports, { secret: SECRET, shared, name: `pause${index}-node${id}` })))
  const clients = []
  try {
    for (const n of nodes) await n.waitForOutput('this node hosts regions now', { timeout: 30000 })
    for (const [i, n] of nodes.entries()) clients.push(await h.rawClient(n, `Keeper${i + 1}`))
    const leaderId = await leaderOf(nodes[0])
    const leader = nodes[leaderId - 1]
    const survivors = nodes.filter((n) => n !== leader)
    const urls = await Promise.all(survivors.map(h.adminUrl))
    await h.sleep(3000)
    const { placed } = await h.listRegions(survivors[0], leaderId)
    const samples = survivors.map(() => [])
    let polling = true
    const pollers = urls.map(async (url, i) => {
      while (polling) {
        const count = await ticks(url).catch(() => null)
        samples[i].push({ at: performance.now(), count })
        await h.sleep(POLL_MS)
      }
    })
    await h.sleep(1000)
    const killedAt = performance.now()
    if (process.env.VERBOSE) process.stdout.write(`# killing node ${leaderId} at ${new Date().toISOString()}\n`)
    await leader.kill()
    let movedAt = null
    while (performance.now() - killedAt < AFTER_MS) {
      if (movedAt === null && (await h.listRegions(survivors[0], leaderId).then((r) => r.placed, () => 1)) === 0) movedAt = performance.now()
      await h.sleep(100)
    }
    polling = false
    await Promise.all(pollers)
    const pauses = samples.map((series) => {
      let lastChange = null
      let longest = 0
      let previous = null
      for (const s of series) {
        if (s.at < killedAt || s.count === null) {
          if (s.count !== null) { previous = s.count; lastChange = s.at }
          continue
        }
        if (s.count !== previous) {
          if (lastChange !== null) longest = Math.max(longest, s.at - lastChange)
          previous = s.count
          lastChange = s.at
        }
      }
      return Math.round(longest)
    })
    const result = {
      run: index,
      leader: leaderId,
      leader_regions: placed,
      longest_pause_ms: Object.fromEntries(survivors.map((n, i) => [n.name, pauses[i]])),
      reassigned_ms: movedAt === null ? null : Math.round(movedAt - killedAt)
    }
    process.stdout.write(`${JSON.stringify(result)}\n`)
    return result
  } finally {
    await h.quitAll(new Set(clients))
    for (const n of nodes) await n.close().catch(() => {})
    fs.rmSync(shared, { recursive: true, force: true })
  }
}

async function main () {
  for (let i = 1; i <= RUNS; i++) await run(i)
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
