'use strict'
// The chaos run (issue 16): three real nodes, each in its own network
// namespace, share one world folder while two builders place and dig blocks
// in regions owned by nodes 2 and 3 and a register workload bans and pardons
// players from every node's console and reads the bans back by logging in.
// Meanwhile nodes are partitioned, their links made lossy (iptables), paused
// (SIGSTOP) and killed (SIGKILL) and restarted. At the end:
//   - every block change the server confirmed is there (builder.check), and
//   - the register history (ban = write, pardon = write of "absent", a
//     login's ban message = read) is linearizable, key by key.
//
//   node --test tests/chaos/chaos.test.js                 # bounded: about 2 minutes of faults
//   CHAOS_SECONDS=1800 node --test tests/chaos/chaos.test.js   # longer: the schedule repeats
//
// Needs root, iproute2 and iptables (tests/run.sh installs iptables).
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { test } = require('node:test')
const h = require('../e2e/harness')
const builder = require('../e2e/builder')
const netns = require('./netns')
const linearizable = require('./linearizable')

const CHAOS_SECONDS = Number(process.env.CHAOS_SECONDS || 110)
const IDS = [1, 2, 3]
const SECRET = 'chaos-cluster-secret-0123456789'
const GAME_PORT = 25565
const CLUSTER_PORT = 25590
const TARGETS = ['Target0', 'Target1', 'Target2', 'Target3']
const now = () => performance.now()

const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-chaos-'))
const nodes = {}
const state = {} // id -> 'up' | 'stopped' | 'dead'
const faults = []
const clients = new Set()

async function startNode (id) {
  const ip = netns.ipOf(id)
  const server = await h.startServer({
    name: `chaos-node${id}`,
    netns: netns.nsOf(id),
    host: ip,
    port: GAME_PORT,
    config: {
      server: { view_distance: 3 },
      world: { region_size: 1, data_dir: shared },
      admin: { bind: `${ip}:0` },
      cluster: { node_id: id, bind: `${ip}:${CLUSTER_PORT}`, seeds: IDS.map((i) => `${i}@${netns.ipOf(i)}:${CLUSTER_PORT}`) }
    },
    env: { TESSERA_CLUSTER_SECRET: SECRET }
  })
  nodes[id] = server
  state[id] = 'up'
  return server
}

async function ready (server, timeout = 60000) {
  await h.waitFor(async () => (await fetch(`${await h.adminUrl(server)}/readyz`)).status === 200, {
    timeout, interval: 250, message: `${server.name} to be ready`
  })
}

async function regionOf (owner) {
  const { map } = await h.listRegions(nodes[1], owner)
  const name = [...map.keys()].find((r) => r !== 'r.0.0')
  assert.ok(name, `node ${owner} owns no region`)
  const [x, z] = name.slice(2).split('.').map(Number)
  return { name, x: x * 16 + 8, z: z * 16 + 8 }
}

// --- the register workload -------------------------------------------------

const history = Object.fromEntries(TARGETS.map((t) => [t, []]))
let writeCounter = 0

// One console command at a time per node: an answer that comes after its
// timeout is waited for before the next command, so no answer is taken for
// another command's.
async function writer (id, until) {
  while (now() < until()) {
    const server = nodes[id]
    if (state[id] !== 'up') { await h.sleep(200); continue }
    const target = TARGETS[Math.floor(Math.random() * TARGETS.length)]
    const ban = Math.random() < 0.7
    const value = ban ? `v${++writeCounter}` : null
    const line = ban ? `ban ${target} ${value}` : `pardon ${target}`
    const answer = ban ? new RegExp(`(Banned ${target})|(Failed: [^\\n]*)`) : new RegExp(`(Unbanned ${target}|${target} was not banned)|(Failed: [^\\n]*)`)
    const op = { kind: 'write', value, start: now(), end: Infinity, via: id }
    history[target].push(op)
    const since = server.mark()
    server.send(line)
    try {
      const match = await server.waitForOutput(answer, { since, timeout: 8000 })
      if (match[1]) op.end = now()
    } catch (_) {
      // Unknown outcome: it may take effect at any time, or never.
      await server.waitForOutput(answer, { since, timeout: 30000 }).catch(() => {})
    }
    await h.sleep(50 + Math.random() * 150)
  }
}

// Logs in as a target: the ban's reason, Join Game (not banned), or
// another refusal (unknown: left out).
async function readOnce (id, target) {
  const server = nodes[id]
  const { mc } = h.lib()
  const op = { kind: 'read', start: now(), via: id }
  const client = mc.createClient({ host: server.host, port: server.port, username: target, version: h.VERSION, auth: 'offline', hideErrors: true })
  clients.add(client)
  client.on('error', () => {})
  const outcome = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 10000)
    const done = (value) => { clearTimeout(timer); resolve(value) }
    const refused = (packet) => {
      const text = h.chatText(packet.reason)
      const m = /Reason: (v\d+)/.exec(text)
      done(m ? { value: m[1] } : null)
    }
    client.on('login', () => done({ value: null }))
    client.on('disconnect', refused)
    client.on('kick_disconnect', refused)
    client.on('end', () => done(null))
  })
  op.end = now()
  try { client.end() } catch (_) {}
  clients.delete(client)
  if (outcome) history[target].push({ ...op, value: outcome.value })
}

async function reader (until) {
  while (now() < until()) {
    const live = IDS.filter((id) => state[id] === 'up')
    const id = live[Math.floor(Math.random() * live.length)]
    if (id) await readOnce(id, TARGETS[Math.floor(Math.random() * TARGETS.length)])
    await h.sleep(100 + Math.random() * 200)
  }
}

// --- the faults -------------------------------------------------------------

const others = (id) => IDS.filter((i) => i !== id)

function schedule () {
  return [
    { name: 'partition node 3', run: async () => { netns.partition(3, others(3)); await h.sleep(20000); netns.heal(3) } },
    { name: 'lossy links of node 2 (30% dropped)', run: async () => { netns.lossy(2, others(2), 0.3); await h.sleep(20000); netns.heal(2) } },
    {
      name: 'SIGSTOP node 3 for 15 s',
      run: async () => {
        state[3] = 'stopped'
        process.kill(nodes[3].child.pid, 'SIGSTOP')
        await h.sleep(15000)
        process.kill(nodes[3].child.pid, 'SIGCONT')
        state[3] = 'up'
      }
    },
    {
      name: 'SIGKILL node 2, restart after 5 s',
      run: async () => {
        state[2] = 'dead'
        await nodes[2].kill()
        await h.sleep(5000)
        await startNode(2)
        await ready(nodes[2])
      }
    },
    { name: 'partition node 2', run: async () => { netns.partition(2, others(2)); await h.sleep(15000); netns.heal(2) } }
  ]
}

test('chaos: partitions, lossy links, SIGSTOP and SIGKILL lose no confirmed block and keep the register linearizable', { timeout: (CHAOS_SECONDS + 300) * 1000 }, async () => {
  linearizable.selfTest()
  const why = netns.unavailable()
  assert.equal(why, null, why)
  netns.up(IDS)
  try {
    await Promise.all(IDS.map(startNode))
    await Promise.all(IDS.map((id) => ready(nodes[id])))

    const builders = []
    for (const owner of [2, 3]) {
      const name = `Builder${owner}`
      await nodes[1].op(name)
      const bot = await h.joinBot(nodes[1], name)
      clients.add(bot)
      const area = await regionOf(owner)
      await builder.teleport(nodes[1], bot, area.x, area.z)
      await builder.creativeWithStone(nodes[1], bot)
      builders.push({ bot, area, ledger: new builder.Ledger(bot), owner })
    }

    const start = now()
    let stopAt = Infinity
    const until = () => stopAt
    const building = builders.map(async ({ bot, area, ledger }) => {
      while (now() < stopAt && !bot.isEnded) {
        await builder.run(bot, builder.plan(area.x, area.z, { radius: 3, layers: 3 }), ledger, { every: 15, stop: () => now() >= stopAt })
      }
    })
    const workload = [...IDS.map((id) => writer(id, until)), reader(until), reader(until)]

    await h.sleep(8000)
    while (now() - start < CHAOS_SECONDS * 1000) {
      for (const fault of schedule()) {
        if (now() - start >= CHAOS_SECONDS * 1000) break
        const at = ((now() - start) / 1000).toFixed(1)
        process.stdout.write(`# ${at} s: ${fault.name}\n`)
        await fault.run()
        faults.push(fault.name)
        await h.sleep(8000)
      }
    }
    stopAt = now()
    await Promise.all(building)
    await Promise.all(workload)

    for (const id of IDS) netns.heal(id)
    await Promise.all(IDS.map((id) => ready(nodes[id])))
    // A last read of every key, after the dust settled.
    for (const target of TARGETS) await readOnce(1, target)

    let checked = 0
    const violations = []
    for (const target of TARGETS) {
      const ops = history[target]
      checked += ops.length
      if (!linearizable.check(ops).ok) violations.push({ target, ops })
    }
    const writes = TARGETS.flatMap((t) => history[t].filter((o) => o.kind === 'write'))
    const reads = TARGETS.flatMap((t) => history[t].filter((o) => o.kind === 'read'))
    process.stdout.write(`# faults injected: ${faults.length} (${faults.join('; ')})\n`)
    process.stdout.write(`# register: ${checked} operations checked (${writes.filter((o) => o.end !== Infinity).length} writes acknowledged, ${writes.filter((o) => o.end === Infinity).length} of unknown outcome, ${reads.length} reads); linearizability violations: ${violations.length}\n`)
    assert.deepEqual(violations.map((v) => v.target), [], `non-linearizable histories: ${JSON.stringify(violations)}`)
    assert.ok(reads.length >= 20 && writes.length >= 20, 'the register workload ran')

    let confirmed = 0
    let kept = 0
    for (const { bot, area, ledger, owner } of builders) {
      assert.ok(!bot.isEnded, `Builder${owner}, on node 1, was disconnected`)
      confirmed += ledger.confirmations
      const checker = await h.joinBot(nodes[1], `Checker${owner}`)
      clients.add(checker)
      await nodes[1].op(checker.username)
      await builder.teleport(nodes[1], checker, area.x, area.z)
      kept += builder.check(checker, ledger, `region of node ${owner} after the chaos`)
      checker.quit()
    }
    process.stdout.write(`# blocks: ${confirmed} confirmations, ${kept} positions hold their last confirmed state, 0 confirmed changes lost\n`)
    assert.ok(confirmed >= 200, `only ${confirmed} block changes confirmed`)
  } finally {
    for (const c of clients) { try { c.quit ? c.quit() : c.end() } catch (_) {} }
    for (const id of IDS) {
      const server = nodes[id]
      if (!server) continue
      try { process.kill(server.child.pid, 'SIGCONT') } catch (_) {}
      await server.close().catch(() => {})
      process.stdout.write(`# server log for ${server.name}: ${server.logPath}\n`)
    }
    netns.down(IDS)
    fs.rmSync(shared, { recursive: true, force: true })
  }
})
