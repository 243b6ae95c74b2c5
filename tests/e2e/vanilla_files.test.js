'use strict'
// Console `users` counts the accounts; `export <dir>` writes vanilla's
// ops.json, whitelist.json, banned-players.json and banned-ips.json, and
// `import <dir>` on a fresh server's data brings the ops, whitelist and bans
// back; a malformed file is refused whole, naming the file and the entry.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const h = require('./harness')

const ctx = h.setupServer({ name: 'vanilla-files', config: { server: { view_distance: 2 }, auth: { require_login: true } } })
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-e2e-vanilla-'))
const FILES = ['ops.json', 'whitelist.json', 'banned-players.json', 'banned-ips.json']
const DATE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000$/

function readAll (dir) {
  return Object.fromEntries(FILES.map((f) => [f, JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))]))
}

ctx.test('users counts the registered accounts and shows one without its hash', async ({ bot, server }) => {
  await server.command('users', /There are 0 registered users/)
  for (const name of ['Alpha', 'Beta']) {
    const b = await bot(name)
    await h.waitForMessage(b, /Please register/)
    b.chat('/register swordfish9 swordfish9')
    await h.waitForMessage(b, 'Successfully registered')
  }
  await server.command('users', /There are 2 registered users/)
  const shown = await server.command('users alpha', /Alpha: uuid [0-9a-f-]{36}, registered at \d+/)
  assert.ok(!/argon2/.test(shown), `users <name> showed the hash: ${shown}`)
})

ctx.test('export, then import into a fresh server: ops, whitelist and bans survive; a malformed file is refused', async ({ server, track }) => {
  await server.op('Alpha')
  await server.command('whitelist add Beta', /Added Beta/)
  await server.command('ban Griefer broke the spawn', /Banned Griefer/)
  await server.command('ban-ip 10.1.2.3 open proxy', /Banned IP 10.1.2.3/)
  const exported = path.join(scratch, 'exported')
  await server.command(`export ${exported}`, /Exported 1 ops, 1 whitelisted players, 1 banned players, 1 banned IPs/)
  const files = readAll(exported)
  const [op] = files['ops.json']
  assert.deepEqual(Object.keys(op).sort(), ['bypassesPlayerLimit', 'level', 'name', 'uuid'])
  assert.equal(op.name, 'Alpha')
  assert.equal(op.level, 4)
  assert.match(op.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'an offline-mode (v3) uuid')
  assert.deepEqual(files['whitelist.json'].map((e) => e.name), ['Beta'])
  const [ban] = files['banned-players.json']
  assert.equal(ban.name, 'Griefer')
  assert.equal(ban.reason, 'broke the spawn')
  assert.equal(ban.expires, 'forever')
  assert.match(ban.created, DATE)
  assert.equal(ban.source, 'Server')
  const [ipBan] = files['banned-ips.json']
  assert.deepEqual([ipBan.ip, ipBan.reason, ipBan.expires], ['10.1.2.3', 'open proxy', 'forever'])

  const fresh = await h.startServer({ name: 'vanilla-files-fresh', config: { server: { view_distance: 2 } } })
  try {
    await fresh.command(`import ${exported}`, /Imported 1 ops, 1 whitelisted players, 1 banned players, 1 banned IPs/)
    await fresh.command('whitelist list', /1 whitelisted players: Beta/)
    const again = path.join(scratch, 'again')
    await fresh.command(`export ${again}`, /Exported 1 ops/)
    assert.deepEqual(readAll(again), files, 'the fresh server exports what it imported')
    // the imported ban holds on the fresh server
    const griefer = track(h.createBot(fresh, 'Griefer', { allowNetworkErrors: true }))
    await h.withTimeout(griefer.whenEnded, 15000, 'the banned Griefer to be refused')
    assert.ok(griefer.kicks.some((k) => /broke the spawn/.test(k.text)), `kick: ${JSON.stringify(griefer.kicks)}`)

    // a malformed whitelist refuses the whole import: the good ops.json beside it is not taken
    const bad = path.join(scratch, 'bad')
    fs.mkdirSync(bad)
    fs.writeFileSync(path.join(bad, 'ops.json'), JSON.stringify([{ uuid: '5f0ad3a2-3f3c-4d9e-9e55-8d0a8f0b1c2d', name: 'Gamma', level: 3, bypassesPlayerLimit: false }]))
    fs.writeFileSync(path.join(bad, 'whitelist.json'), JSON.stringify([{ uuid: '5f0ad3a2-3f3c-4d9e-9e55-8d0a8f0b1c2d', name: 'Gamma' }, { uuid: 'not-a-uuid', name: 'Delta' }]))
    await fresh.command(`import ${bad}`, /Import refused, nothing changed: whitelist\.json, entry 2 .*"not-a-uuid" is not a uuid/)
    const after = path.join(scratch, 'after')
    await fresh.command(`export ${after}`, /Exported 1 ops, 1 whitelisted players/)
    assert.deepEqual(readAll(after)['ops.json'].map((e) => e.name), ['Alpha'], 'the refused import added an op')
    fs.writeFileSync(path.join(bad, 'whitelist.json'), '{"not": "a list"}')
    await fresh.command(`import ${bad}`, /Import refused, nothing changed: whitelist\.json is not a JSON list/)
  } finally {
    await fresh.close()
    fs.rmSync(scratch, { recursive: true, force: true })
  }
})
