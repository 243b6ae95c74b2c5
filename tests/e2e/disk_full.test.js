'use strict'
// A full disk: the world's data_dir is a small tmpfs. A builder places and
// digs blocks while a ballast file fills the disk; the changes it asks for
// then stop being confirmed, /readyz is not ready and /metrics says why, a
// new player's /register is answered plainly. Once the ballast is deleted,
// the server recovers by itself: every held change is confirmed, /readyz is
// ready again, a player registers. After SIGKILL and a restart, every block
// stands as last confirmed, and what was saved before the disk filled (region
// files, level.dat, the register's accounts) is all there.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { test, before, after } = require('node:test')
const nbt = require('prismarine-nbt')
const h = require('./harness')
const builder = require('./builder')

// What identifies the world in a level.dat: it must parse, and keep these.
async function levelOf (file) {
  const { parsed } = await nbt.parse(fs.readFileSync(file))
  const data = nbt.simplify(parsed).Data
  return { version: data.DataVersion, seed: data.WorldGenSettings.seed, spawn: [data.SpawnX, data.SpawnY, data.SpawnZ] }
}

const mountDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-e2e-disk-full-'))
let mount = { mounted: false, reason: 'the tmpfs was not mounted' }
const servers = []
const clients = new Set()
const PASSWORD = 'full-disk-password'
const NOT_SAVED = 'Your account could not be saved right now; try again shortly'

before(() => {
  mount = h.mountTmpfs(mountDir, { size: '16m' })
})

after(async () => {
  await h.quitAll(clients)
  for (const s of servers) {
    await s.close().catch(() => {})
    process.stdout.write(`# server log for ${s.name}: ${s.logPath}\n`)
  }
  if (mount.mounted) h.unmountTmpfs(mountDir)
  fs.rmSync(mountDir, { recursive: true, force: true })
}, { timeout: 30000 })

async function start (name) {
  const world = { data_dir: mountDir, region_size: 32, autosave_seconds: 1 }
  const s = await h.startServer({ name, config: { world, auth: { require_login: true } } })
  servers.push(s)
  return s
}

// Joins and waits for the login gate's prompt.
async function arrive (server, name) {
  const bot = await h.joinBot(server, name)
  clients.add(bot)
  const prompt = await h.waitForMessage(bot, /Please (register|log in)/)
  return { bot, registered: !/register/.test(prompt) }
}

// Sends a chat line; returns the first message after it matching `pattern`.
async function answer (bot, line, pattern, timeout = 15000) {
  const since = bot.chatLog.length
  bot.chat(line)
  return h.waitForMessage(bot, pattern, { since, timeout })
}

// Joins through the login gate, as a player would.
async function player (server, name) {
  const { bot, registered } = await arrive(server, name)
  const line = registered ? `/login ${PASSWORD}` : `/register ${PASSWORD} ${PASSWORD}`
  await answer(bot, line, /Successfully (registered|logged in)/)
  return bot
}

async function admin (server, pathname) {
  const res = await fetch(`${await h.adminUrl(server)}${pathname}`)
  return { status: res.status, text: await res.text() }
}

function metric (text, name) {
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'))
  return m ? Number(m[1]) : undefined
}

// Positions whose last asked-for change has had no answer yet.
function unanswered (ledger) {
  return [...ledger.askedSince.values()].filter((asked) => asked.size > 0).length
}

// Every touched position shows exactly what the server last confirmed
// there: nothing held back or refused stands in its place.
function checkExact (bot, ledger, label) {
  builder.check(bot, ledger, label)
  const wrong = []
  for (const [k, pos] of ledger.touched) {
    const block = bot.blockAt(pos)
    const name = block ? block.name : 'unloaded'
    const confirmed = ledger.confirmed.get(k) || 'never confirmed'
    if (name !== confirmed) wrong.push(`${k}: ${name}, confirmed ${confirmed}`)
  }
  assert.deepEqual(wrong, [], `${label}: positions that differ from their last confirmation`)
  return ledger.touched.size
}

const regionFiles = () => fs.readdirSync(path.join(mountDir, 'region')).filter((f) => f.endsWith('.mca'))
const leftovers = () => fs.readdirSync(path.join(mountDir, 'region')).filter((f) => f.endsWith('.tmp'))
// Journal segments with nothing in them: what failed retries would leave.
const emptySegments = () => fs.readdirSync(path.join(mountDir, 'journal'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.log') && fs.statSync(path.join(mountDir, 'journal', f)).size === 0)

// Adds the server log tail to a failure.
async function withLog (server, fn) {
  try {
    return await fn()
  } catch (err) {
    if (err && typeof err === 'object') err.message += `\n--- server log (${server.logPath}) tail ---\n${server.tail(40)}`
    throw err
  }
}

test('a full disk holds changes back and loses nothing; the server recovers when space returns and after a restart', { timeout: 120000 }, async (t) => {
  if (!mount.mounted) return t.skip(mount.reason)
  let server = await start('disk-full')
  await withLog(server, async () => {
    const bot = await player(server, 'Builder')
    await server.op('Builder')
    await builder.teleport(server, bot, 40, 8)
    await builder.creativeWithStone(server, bot)

    // Saved before the disk fills: these must survive everything after.
    const early = new builder.Ledger(bot)
    const earlySteps = builder.plan(40, 8, { radius: 1, layers: 2 }).filter((s) => s.kind === 'place')
    await builder.run(bot, earlySteps, early)
    await h.waitFor(() => early.confirmations >= earlySteps.length, { timeout: 10000, message: 'the early blocks confirmed' })
    await server.command('save-all', /Saved the game \(\d+ regions on disk\)/, { timeout: 15000 })
    const savedRegions = regionFiles()
    assert.ok(savedRegions.length > 0, 'save-all wrote no region file')
    const levelDat = await levelOf(path.join(mountDir, 'level.dat'))

    // The disk fills while the builder builds.
    await builder.teleport(server, bot, 80, 8)
    const ledger = new builder.Ledger(bot)
    let ballast = null
    ledger.onConfirmation((n) => {
      if (n >= 60 && !ballast) ballast = h.fillDisk(mountDir)
    })
    const steps = builder.plan(80, 8)
    await builder.run(bot, [...steps, ...steps], ledger)
    assert.ok(ballast, `only ${ledger.confirmations} confirmations before the disk was to be filled`)
    // What the server freed since (a failed save removes its temporary
    // file) goes to the ballast too, so the disk stays full from here on.
    await h.sleep(1500)
    h.fillDisk(mountDir)
    await h.sleep(1000)
    assert.ok(h.diskFree(mountDir) < 64 * 1024, `the tmpfs still has ${h.diskFree(mountDir)} bytes free`)
    const held = unanswered(ledger)
    assert.ok(held > 0, `every change was confirmed (${ledger.confirmations}): the disk never filled`)
    process.stdout.write(`# ${ledger.confirmations} confirmations before the disk filled, ${held} positions held back\n`)

    const notReady = await h.waitFor(async () => {
      const r = await admin(server, '/readyz')
      return r.status === 503 ? r : null
    }, { timeout: 10000, message: '/readyz to say not ready on a full disk' })
    const failing = await admin(server, '/metrics')
    assert.ok(metric(failing.text, 'tessera_regions_failing_to_persist') >= 1, failing.text)
    process.stdout.write(`# /readyz on the full disk: ${notReady.text.trim()}\n`)

    // A new player on the full disk: told plainly, never redb's internals.
    const late = (await arrive(server, 'Late')).bot
    const reply = await answer(late, `/register ${PASSWORD} ${PASSWORD}`, /could not be saved|Successfully registered|unavailable|error|database/i)
    process.stdout.write(`# a registration on the full disk was answered: ${reply}\n`)
    if (reply !== 'Successfully registered') {
      assert.equal(reply, NOT_SAVED)
      const metrics = await admin(server, '/metrics')
      assert.equal(metric(metrics.text, 'tessera_register_store_failing'), 1, metrics.text)
      assert.ok(metric(metrics.text, 'tessera_register_store_errors_total') >= 1, metrics.text)
    }
    assert.ok(!late.isEnded, `Late was disconnected on the full disk: ${late.endReason}`)
    assert.ok(server.running, 'the server went down on the full disk')
    assert.equal(unanswered(ledger), held, 'held-back changes were answered while the disk was still full')
    assert.deepEqual(emptySegments(), [], 'failed journal retries left empty segments')

    // Space returns: everything held back is confirmed, /readyz is ready.
    h.freeDisk(ballast)
    await h.waitFor(() => unanswered(ledger) === 0, { timeout: 20000, message: () => `the held-back changes to be confirmed (${unanswered(ledger)} left)` })
    await h.waitFor(async () => (await admin(server, '/readyz')).status === 200, { timeout: 20000, message: '/readyz to be ready once space returned' })
    const healed = await admin(server, '/metrics')
    assert.equal(metric(healed.text, 'tessera_regions_failing_to_persist'), 0, healed.text)
    assert.equal(metric(healed.text, 'tessera_register_store_failing'), 0, healed.text)

    const fresh = await player(server, 'Fresh')
    if (reply !== 'Successfully registered') {
      await answer(late, `/register ${PASSWORD} ${PASSWORD}`, 'Successfully registered')
    }
    await builder.teleport(server, fresh, 80, 8)
    const seen = checkExact(fresh, ledger, 'once space returned')
    process.stdout.write(`# ${seen} positions as confirmed once space returned\n`)

    // A crash now loses nothing confirmed, and nothing saved before is gone.
    await server.kill()
    assert.deepEqual(leftovers(), [], 'temporary files were left in region/')
    assert.deepEqual(savedRegions.filter((f) => !regionFiles().includes(f)), [], 'a saved region file is gone')
    // level.dat is written again at every save (its clock moves on); what
    // makes it this world must still read back whole.
    assert.deepEqual(await levelOf(path.join(mountDir, 'level.dat')), levelDat, 'level.dat lost its world')
    for (const b of [...clients]) clients.delete(b)

    server = await start('disk-full-restarted')
    await withLog(server, async () => {
      const checker = await player(server, 'Late')
      await builder.teleport(server, checker, 80, 8)
      checkExact(checker, ledger, 'after SIGKILL and restart')
      await builder.teleport(server, checker, 40, 8)
      checkExact(checker, early, 'the blocks saved before the disk filled, after restart')
      for (const name of ['Builder', 'Fresh']) {
        const { bot: back, registered } = await arrive(server, name)
        assert.ok(registered, `${name}'s account is gone after the restart`)
        await answer(back, `/login ${PASSWORD}`, 'Successfully logged in')
      }
    })
  })
})
