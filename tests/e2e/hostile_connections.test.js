'use strict'
// Hostile connections (issue 16, finding 4), on a server of its own with
// small per-address limits. Offenders connect from other loopback
// addresses (127.0.x.y all reach the server), so each limit is hit by its
// own address while a real bot joins from 127.0.0.1 and plays.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')
const h = require('./harness')

const LIMITS = { max_connections_per_address: 10, connections_per_address_per_second: 20, status_requests_per_address_per_second: 5 }
const ctx = h.setupServer({ name: 'hostile-connections', config: { server: LIMITS } })

// --- the wire, by hand ------------------------------------------------------

function varint (n) {
  const out = []
  do {
    let byte = n & 0x7f
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    out.push(byte)
  } while (n > 0)
  return Buffer.from(out)
}

function frame (...parts) {
  const body = Buffer.concat(parts)
  return Buffer.concat([varint(body.length), body])
}

function mcString (text) {
  const bytes = Buffer.from(text, 'utf8')
  return Buffer.concat([varint(bytes.length), bytes])
}

function handshake (server, nextState, protocol = h.PROTOCOL) {
  const port = Buffer.alloc(2)
  port.writeUInt16BE(server.port)
  return frame(varint(0x00), varint(protocol), mcString('127.0.0.1'), port, varint(nextState))
}

const loginStart = (name) => frame(varint(0x00), mcString(name), Buffer.from([0]))
const statusRequest = () => frame(varint(0x00))
const ping = () => frame(varint(0x01), Buffer.alloc(8, 7))

// A raw socket from `localAddress`; `received` collects what the server
// sent, `closed` resolves when the connection ends.
function connect (server, localAddress) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port, localAddress })
    socket.received = Buffer.alloc(0)
    socket.on('data', (d) => { socket.received = Buffer.concat([socket.received, d]) })
    socket.isClosed = false
    socket.whenClosed = new Promise((resolve) => socket.once('close', () => { socket.isClosed = true; resolve(Date.now()) }))
    socket.once('connect', () => { socket.removeListener('error', reject); socket.on('error', () => {}); resolve(socket) })
    socket.once('error', reject)
  })
}

// Whether the server ended the connection within `ms`.
async function endedWithin (socket, ms) {
  let timer
  const late = new Promise((resolve) => { timer = setTimeout(() => resolve(false), ms) })
  const ended = await Promise.race([socket.whenClosed.then(() => true), late])
  clearTimeout(timer)
  return ended
}

// --- the server, from outside -----------------------------------------------

async function metrics (server) {
  const text = await (await fetch(`${await h.adminUrl(server)}/metrics`)).text()
  const refused = {}
  for (const m of text.matchAll(/^tessera_connections_refused_total\{reason="(\w+)"\} (\d+)$/gm)) refused[m[1]] = Number(m[2])
  return refused
}

function rssMb (server) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))[1]) / 1024
}

// Samples the server's RSS every 100 ms until stopped; returns the peak.
function watchRss (server) {
  let peak = rssMb(server)
  const timer = setInterval(() => { peak = Math.max(peak, rssMb(server)) }, 100)
  return () => { clearInterval(timer); return Math.max(peak, rssMb(server)) }
}

// The bot walks forward a little: it is in play, not just logged in.
async function plays (bot) {
  const from = bot.entity.position.clone()
  bot.setControlState('forward', true)
  await h.sleep(800)
  bot.setControlState('forward', false)
  assert.ok(bot.entity.position.distanceTo(from) > 0.5, `${bot.username} did not move`)
}

// The log lines this address got for this reason since `since`.
function refusalLines (server, address, reason, since) {
  return server.output.slice(since).split('\n')
    .filter((l) => l.includes('connection refused') && l.includes(`address=${address} `) && l.includes(`reason=${reason}`))
}

// Address i of a block of loopback addresses: 127.0.<block>.<1 + i>.
const address = (block, i) => `127.0.${block}.${1 + i}`

async function openMany (server, block, count, perAddress = LIMITS.max_connections_per_address) {
  const sockets = []
  for (let i = 0; i < count; i++) sockets.push(connect(server, address(block, Math.floor(i / perAddress))))
  return Promise.all(sockets)
}

// ---------------------------------------------------------------------------

ctx.test('a frame length over the protocol maximum, or over 32 KiB before play, is refused at once, before its body', async ({ bot, rawClient, server }) => {
  const before = await metrics(server)
  const since = server.mark()
  // Login state: the prefix of a 2^21-byte Login Start is refused with the
  // reason once its third byte says it goes on.
  const login = await connect(server, address(1, 0))
  login.write(Buffer.concat([handshake(server, 2), Buffer.from([0x80, 0x80, 0x80, 0x01])]))
  assert.ok(await endedWithin(login, 2000), 'the login connection was not closed at once')
  assert.match(login.received.toString('latin1'), /Packet too large/)
  // Handshake state: a 2,097,151-byte prefix is over the pre-play limit; closed, no body needed.
  const early = await connect(server, address(1, 0))
  early.write(Buffer.from([0xff, 0xff, 0x7f]))
  assert.ok(await endedWithin(early, 2000), 'the handshake connection was not closed at once')
  // In play a frame may be large, but not over 2^21 - 1: the player is told why.
  const player = await rawClient('Bigplayer')
  player.socket.write(Buffer.from([0x80, 0x80, 0x80, 0x01]))
  await h.withTimeout(player.whenEnded, 3000, 'the player to be disconnected')
  assert.deepEqual(player.kicks.map((k) => k.text), ['Packet too large'])

  // The finding: 300 connections each sending a 2,097,151-byte frame.
  const rssBefore = rssMb(server)
  const stopWatch = watchRss(server)
  const body = Buffer.alloc((1 << 21) - 1 - 1, 0x41) // one buffer, written to every socket
  const flood = await openMany(server, 2, 300)
  for (const s of flood) {
    s.write(Buffer.concat([handshake(server, 2), Buffer.from([0xff, 0xff, 0x7f, 0x00])]))
    s.write(body)
  }
  const walker = await bot('Steady')
  await plays(walker)
  const ended = await Promise.all(flood.map((s) => endedWithin(s, 5000)))
  const peak = stopWatch()
  process.stdout.write(`# 300 × 2 MB frames: RSS ${rssBefore.toFixed(0)} -> peak ${peak.toFixed(0)} MB, ${ended.filter(Boolean).length} of 300 closed\n`)
  assert.equal(ended.filter(Boolean).length, 300, 'every flooding connection was closed')
  assert.ok(peak - rssBefore < 40, `RSS grew by ${(peak - rssBefore).toFixed(0)} MB (bound 40 MB)`)
  const after = await metrics(server)
  assert.ok(after.frame_too_long - before.frame_too_long >= 303, `frame_too_long ${before.frame_too_long} -> ${after.frame_too_long}`)
  // One line per address and reason, not one per connection.
  assert.equal(refusalLines(server, address(2, 0), 'frame_too_long', since).length, 1)
}, { timeout: 40000 })

ctx.test('incomplete frames before play share a 16 MiB budget: the connection that would go over it is refused', async ({ bot, server }) => {
  const before = await metrics(server)
  const rssBefore = rssMb(server)
  const stopWatch = watchRss(server)
  // 800 connections each sending 30,000 of a 32,000-byte Login Start:
  // 24 MB if each were kept, against a budget of 16 MiB beyond 2 KiB each.
  const part = Buffer.concat([handshake(server, 2), varint(32000), Buffer.alloc(30000, 0x42)])
  const holders = await openMany(server, 3, 800)
  for (const s of holders) s.write(part)
  const walker = await bot('Budgeted')
  await plays(walker)
  await h.waitFor(async () => (await metrics(server)).pre_play_budget > before.pre_play_budget, { timeout: 10000, message: 'a pre-play budget refusal' })
  await h.sleep(1500)
  const peak = stopWatch()
  const refused = holders.filter((s) => s.isClosed)
  const after = await metrics(server)
  const charge = 3 + 30000 - 2048
  const fit = Math.floor(16 * 1024 * 1024 / charge)
  process.stdout.write(`# 800 × 30 KB pending: RSS ${rssBefore.toFixed(0)} -> peak ${peak.toFixed(0)} MB; ${refused.length} refused (metric +${after.pre_play_budget - before.pre_play_budget}), ${fit} fit the budget\n`)
  assert.ok(800 - refused.length <= fit, `${800 - refused.length} held, the budget fits ${fit}`)
  assert.ok(refused.length >= 800 - fit - 10, `only ${refused.length} refused`)
  assert.equal(after.pre_play_budget - before.pre_play_budget, refused.length)
  assert.match(refused[0].received.toString('latin1'), /The server is busy with other logins/)
  // 16 MiB charged plus 2 KiB per connection, the buffers' spare room, and
  // 800 connections' tasks and codecs: measured 33-53 MB here.
  assert.ok(peak - rssBefore < 80, `RSS grew by ${(peak - rssBefore).toFixed(0)} MB (bound 80 MB)`)
  for (const s of holders) s.destroy()
}, { timeout: 40000 })

ctx.test('an address gets at most max_connections_per_address connections at once; the others are closed at accept', async ({ bot, server }) => {
  const before = await metrics(server)
  const since = server.mark()
  const sockets = []
  for (let i = 0; i < 15; i++) sockets.push(await connect(server, address(4, 0)))
  const ended = await Promise.all(sockets.map((s) => endedWithin(s, 500)))
  assert.deepEqual(ended, [...Array(10).fill(false), ...Array(5).fill(true)])
  const walker = await bot('Neighbour')
  await plays(walker)
  for (const s of sockets) s.destroy()
  // Places free up when connections end.
  await h.sleep(300)
  const again = await connect(server, address(4, 0))
  assert.ok(!(await endedWithin(again, 300)), 'a connection after the others left was refused')
  again.destroy()
  const after = await metrics(server)
  assert.equal(after.connections_per_address - before.connections_per_address, 5)
  assert.equal(refusalLines(server, address(4, 0), 'connections_per_address', since).length, 1)
})

ctx.test('new connections per address are a token bucket: a burst, then the rate; each refused one is closed at accept', async ({ bot, server }) => {
  const before = await metrics(server)
  const since = server.mark()
  const started = Date.now()
  let answered = 0
  let refused = 0
  // Each attempt is a login with an outdated protocol: an admitted one is
  // told so at once and ends, so the cap at once is never reached.
  for (let i = 0; i < 80; i++) {
    const s = await connect(server, address(5, 0))
    s.write(Buffer.concat([handshake(server, 2, 47), loginStart('Rapid')]))
    await s.whenClosed
    if (/Outdated client/.test(s.received.toString('latin1'))) answered++
    else refused++
  }
  const seconds = (Date.now() - started) / 1000
  const walker = await bot('Patient')
  await plays(walker)
  const after = await metrics(server)
  process.stdout.write(`# 80 connections in ${seconds.toFixed(2)} s: ${answered} admitted, ${refused} refused\n`)
  const rate = LIMITS.connections_per_address_per_second
  assert.ok(answered >= rate, `${answered} admitted: the burst is ${rate}`)
  assert.ok(answered <= rate + Math.ceil(rate * seconds) + 1, `${answered} admitted in ${seconds} s`)
  assert.ok(refused > 0)
  assert.equal(after.connection_rate - before.connection_rate, refused)
  assert.equal(refusalLines(server, address(5, 0), 'connection_rate', since).length, 1)
})

ctx.test('status: one answer and one ping per connection, and status_requests_per_address_per_second per address', async ({ bot, server }) => {
  const before = await metrics(server)
  const since = server.mark()
  // The vanilla flow still works: status, then ping, on one connection.
  const vanilla = await connect(server, address(6, 0))
  vanilla.write(Buffer.concat([handshake(server, 1), statusRequest()]))
  await h.waitFor(() => vanilla.received.includes('"protocol"'), { timeout: 3000, message: 'a status answer' })
  vanilla.write(ping())
  assert.ok(await endedWithin(vanilla, 2000))
  assert.ok(vanilla.received.includes(Buffer.from([0x09, 0x01, 7, 7, 7, 7, 7, 7, 7, 7])), 'the pong')
  // A second status request on one connection: no second answer, closed.
  const greedy = await connect(server, address(6, 1))
  greedy.write(Buffer.concat([handshake(server, 1), statusRequest(), statusRequest()]))
  assert.ok(await endedWithin(greedy, 2000))
  assert.equal(greedy.received.toString('latin1').split('"protocol"').length - 1, 1)
  // 15 pings from one address, one after the other: the bucket's 5, then
  // about 5 a second.
  const started = Date.now()
  const pings = []
  for (let i = 0; i < 15; i++) {
    const s = await connect(server, address(6, 2))
    s.write(Buffer.concat([handshake(server, 1), statusRequest(), ping()]))
    await s.whenClosed
    pings.push(s)
  }
  const seconds = (Date.now() - started) / 1000
  const answered = pings.filter((s) => s.received.includes('"protocol"')).length
  const walker = await bot('Lister')
  await plays(walker)
  const after = await metrics(server)
  process.stdout.write(`# 15 status pings in ${seconds.toFixed(2)} s: ${answered} answered\n`)
  const rate = LIMITS.status_requests_per_address_per_second
  assert.ok(answered >= rate && answered <= rate + Math.ceil(rate * seconds) + 1, `${answered} answered`)
  assert.equal(after.status_rate - before.status_rate, 15 - answered)
  assert.equal(after.status_per_connection - before.status_per_connection, 1)
  assert.equal(refusalLines(server, address(6, 2), 'status_rate', since).length, 1)
})
