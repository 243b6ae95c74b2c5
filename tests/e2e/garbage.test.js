'use strict'
// Clients that send garbage are disconnected, while the other players keep playing.
const assert = require('node:assert/strict')
const net = require('node:net')
const crypto = require('node:crypto')
const { Vec3 } = require('vec3')
const h = require('./harness')

const ctx = h.setupServer({ name: 'garbage', config: { server: { view_distance: 2, compression_threshold: 256 }, world: { region_size: 2 } } })

function varint (n) {
  const out = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n !== 0) b |= 0x80
    out.push(b)
  } while (n !== 0)
  return Buffer.from(out)
}

// Frame bytes as one packet (length prefix) on a connection where the server enabled compression.
function frame (body, compressed) {
  const payload = compressed ? Buffer.concat([varint(0), body]) : body
  return Buffer.concat([varint(payload.length), payload])
}

// Two bots that keep playing; returns a check() that they still can.
async function players (bot, tag) {
  const a = await bot(`Calm${tag}A`)
  const b = await bot(`Calm${tag}B`)
  await h.waitForSeenPlayer(b, a.username)
  let round = 0
  return async function stillPlaying () {
    round++
    assert.ok(!a.isEnded && !b.isEnded, `a well-behaved bot was disconnected: ${a.endReason || ''} ${b.endReason || ''} ${JSON.stringify([...a.kicks, ...b.kicks].map((k) => k.text))}`)
    const text = `still playing ${round}`
    const got = h.waitForEvent(b, 'chat', { timeout: 5000, filter: (u, m) => u === a.username && m === text, message: () => `${b.username}: chat from ${a.username} after the garbage` })
    a.chat(text)
    await got
    const e = await h.waitForSeenPlayer(b, a.username)
    const start = a.entity.position.clone()
    const dir = round % 2 ? 1 : -1
    await h.walk(a, { toward: new Vec3(start.x, 0, start.z + 100 * dir), until: (x) => Math.abs(x.entity.position.z - start.z) > 2, timeout: 5000 })
    await h.waitFor(() => e.position.distanceTo(a.entity.position) < 0.3, { timeout: 5000, message: () => `${b.username} to see ${a.username} move after the garbage (sees ${e.position}, real ${a.entity.position})` })
  }
}

async function expectClosed (client, what, timeout = 10000) {
  await h.withTimeout(client.whenEnded, timeout, `${what}: the server to close the connection`)
}

// Raw TCP socket; resolves when the server closes it (or rejects on timeout).
function rawSocket (server) {
  const sock = net.connect({ host: server.host, port: server.port })
  sock.on('error', () => {})
  sock.received = []
  sock.on('data', (d) => sock.received.push(d))
  sock.whenClosed = new Promise((resolve) => sock.once('close', resolve))
  sock.whenOpen = new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject) })
  return sock
}

ctx.test('an invalid packet id after login gets the client kicked; others play on', async ({ bot, rawClient }) => {
  const stillPlaying = await players(bot, 1)
  const bad = await rawClient('BadId')
  bad.writeRaw(Buffer.from([0x7e, 1, 2, 3, 4, 5]))
  await expectClosed(bad, 'invalid packet id 0x7e')
  process.stdout.write(`# BadId disconnect reason: ${JSON.stringify(bad.kicks.map((k) => k.text))}\n`)
  await stillPlaying()
})

ctx.test('a truncated / malformed packet body gets the client kicked; others play on', async ({ bot, rawClient }) => {
  const stillPlaying = await players(bot, 2)
  const bad = await rawClient('BadBody')
  // chat_message (0x05): a string whose length prefix claims 1000 bytes, followed by 3 bytes
  bad.writeRaw(Buffer.concat([Buffer.from([0x05]), varint(1000), Buffer.from('abc')]))
  await expectClosed(bad, 'chat_message with a truncated string')
  await stillPlaying()
  const bad2 = await rawClient('BadBody2')
  // set_player_position (0x14, 'position': x y z doubles + on-ground) with only 5 of its 25 bytes
  bad2.writeRaw(Buffer.from([0x14, 0x40, 0x00, 0x00, 0x00, 0x00]))
  await expectClosed(bad2, 'set_player_position with a truncated body')
  await stillPlaying()
})

ctx.test('random bytes on the socket after login get the client kicked; others play on', async ({ bot, rawClient }) => {
  const stillPlaying = await players(bot, 3)
  const bad = await rawClient('Noise')
  // length-prefixed frames with random content (so the frame decoder never waits for more),
  // then plain random bytes
  const chunks = []
  for (let i = 0; i < 50; i++) chunks.push(frame(crypto.randomBytes(40 + (i % 20)), false))
  chunks.push(crypto.randomBytes(4096))
  bad.socket.write(Buffer.concat(chunks))
  await expectClosed(bad, 'random frames')
  await stillPlaying()
})

ctx.test('an oversized or malformed frame length closes the connection promptly', async ({ bot, rawClient }) => {
  const stillPlaying = await players(bot, 4)
  const bad = await rawClient('BigFrame')
  // a 5-byte VarInt length (more than 21 bits: larger than any allowed packet), then nothing more
  bad.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]))
  await expectClosed(bad, '5-byte frame length', 10000)
  // a compressed packet that claims a huge uncompressed size, with invalid zlib data
  const bad2 = await rawClient('BadZlib')
  const body = Buffer.concat([varint(100000000), crypto.randomBytes(300)])
  bad2.socket.write(Buffer.concat([varint(body.length), body]))
  await expectClosed(bad2, 'compressed packet with a huge claimed size and invalid zlib data', 10000)
  await stillPlaying()
})

ctx.test('garbage instead of a handshake, and a handshake with an invalid next state, are closed', async ({ bot, server }) => {
  const stillPlaying = await players(bot, 5)
  // random bytes straight away (first byte not 0xFE, which would be a legacy ping)
  const s1 = rawSocket(server)
  await h.withTimeout(s1.whenOpen, 5000, 'connect')
  const junk = crypto.randomBytes(2048)
  junk[0] = 0x10 // a plausible frame length, followed by garbage
  junk[1] = 0x55 // and a packet id that does not exist in the handshake state
  s1.write(junk)
  await h.withTimeout(s1.whenClosed, 10000, 'the server to close a connection that sent garbage instead of a handshake')
  // a well-formed handshake with next state 7
  const s2 = rawSocket(server)
  await h.withTimeout(s2.whenOpen, 5000, 'connect')
  const host = Buffer.from('127.0.0.1')
  const port = Buffer.alloc(2)
  port.writeUInt16BE(server.port)
  const hs = Buffer.concat([Buffer.from([0x00]), varint(763), varint(host.length), host, port, varint(7)])
  s2.write(Buffer.concat([varint(hs.length), hs]))
  await h.withTimeout(s2.whenClosed, 10000, 'the server to close a connection whose handshake asked for next state 7')
  // a connection that sends half a frame and then closes: nothing bad happens
  const s3 = rawSocket(server)
  await h.withTimeout(s3.whenOpen, 5000, 'connect')
  s3.write(Buffer.from([0x20, 0x00, 0xf3]))
  s3.end()
  await h.withTimeout(s3.whenClosed, 10000, 'half-frame connection to close')
  await stillPlaying()
  assert.ok(server.running, 'the server process died')
})

// Serverbound play packets of fixed size that the server does not act on:
// message acknowledgment, client status, close screen, difficulty lock, boat
// paddles, pick from inventory, pong, resource pack status.
const IGNORED_FIXED_SIZE_IDS = [0x03, 0x07, 0x0c, 0x13, 0x19, 0x1a, 0x20, 0x24]

ctx.test('many garbage clients at once do not disturb the players', async ({ bot, rawClient, server }) => {
  const stillPlaying = await players(bot, 6)
  const bads = []
  for (let i = 0; i < 8; i++) bads.push(await rawClient(`Junk${i}`))
  // Each a packet id the server ignores, with 62 random bytes for a body far
  // longer than the packet: malformed for certain, and then random bytes.
  bads.forEach((c, i) => {
    const body = Buffer.concat([Buffer.from([IGNORED_FIXED_SIZE_IDS[i]]), crypto.randomBytes(62)])
    c.socket.write(Buffer.concat([frame(body, true), crypto.randomBytes(1024)]))
  })
  await Promise.all(bads.map((c, i) => expectClosed(c, `Junk${i}`)))
  const sockets = []
  for (let i = 0; i < 8; i++) {
    const s = rawSocket(server)
    sockets.push(s)
  }
  await Promise.all(sockets.map((s) => h.withTimeout(s.whenOpen, 5000, 'connect')))
  for (const s of sockets) { const j = crypto.randomBytes(512); j[0] = 0x30; j[1] = 0x55; s.write(j) }
  await Promise.all(sockets.map((s) => h.withTimeout(s.whenClosed, 10000, 'garbage socket to be closed')))
  await stillPlaying()
  await stillPlaying()
  assert.ok(server.running, 'the server process died')
})
