'use strict'
// Velocity modern forwarding (server.forwarding = "velocity"). No proxy runs
// here: each client answers the server's Login Plugin Request on
// velocity:player_info itself, as Velocity would for it, with player info
// signed in JS (node's HMAC-SHA256) under the shared secret. The server must
// take the forwarded uuid, name, address and skin, refuse what is not signed
// with the secret, and refuse clients that connect directly.
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const h = require('./harness')

const SECRET = 'e2e-velocity-forwarding-secret'
const ctx = h.setupServer({
  name: 'velocity',
  config: { server: { forwarding: 'velocity' } },
  env: { TESSERA_SERVER_FORWARDING_SECRET: SECRET }
})

const NOT_PROXIED = 'This server requires you to connect with Velocity.'
const UNVERIFIED = 'Unable to verify player details.'

// Velocity's encoding of the signed data: VarInt version, String address,
// UUID, String name, then the properties (VarInt count; name, value,
// Boolean signed, optional String signature).
function varint (n) {
  const out = []
  let v = n >>> 0
  do {
    let byte = v & 0x7f
    v >>>= 7
    if (v) byte |= 0x80
    out.push(byte)
  } while (v)
  return Buffer.from(out)
}

function string (text) {
  const bytes = Buffer.from(text, 'utf8')
  return Buffer.concat([varint(bytes.length), bytes])
}

function playerInfo ({ version = 1, address, uuid, name, properties = [] }) {
  const parts = [varint(version), string(address), Buffer.from(uuid.replace(/-/g, ''), 'hex'), string(name), varint(properties.length)]
  for (const p of properties) {
    parts.push(string(p.name), string(p.value))
    parts.push(p.signature === undefined ? Buffer.from([0]) : Buffer.concat([Buffer.from([1]), string(p.signature)]))
  }
  return Buffer.concat(parts)
}

function signed (secret, data) {
  return Buffer.concat([crypto.createHmac('sha256', secret).update(data).digest(), data])
}

let uuidCounter = 0
// A forwarded profile with an online-style (version 4) uuid and a skin.
function profile (name, address) {
  uuidCounter++
  const hex = crypto.createHash('sha256').update(`${name}-${uuidCounter}`).digest('hex').slice(0, 32)
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`
  const skin = Buffer.from(JSON.stringify({ profileName: name, textures: { SKIN: { url: `http://textures.example/${name}` } } })).toString('base64')
  return {
    address,
    uuid,
    name,
    properties: [{ name: 'textures', value: skin, signature: Buffer.from(`signed-${name}`).toString('base64') }]
  }
}

// A minecraft-protocol client standing in for a player behind the proxy.
// `answer`: 'proxy' signs `forwarded` with `secret`; 'direct' keeps the
// library's own answer ("not understood", as a vanilla client sends);
// 'silent' never answers.
function proxiedClient (t, username, { forwarded, secret = SECRET, answer = 'proxy', version, server = ctx.server } = {}) {
  const { mc } = h.lib()
  const client = mc.createClient({
    host: server.host,
    port: server.port,
    username,
    version: h.VERSION,
    auth: 'offline',
    keepAlive: true,
    hideErrors: false
  })
  t.track(client)
  client.label = `proxied client ${username}`
  client.requests = []
  h.followLogin(client)
  if (answer !== 'direct') client.removeAllListeners('login_plugin_request')
  client.on('login_plugin_request', (request) => {
    client.requests.push(request)
    if (answer !== 'proxy') return
    const data = playerInfo({ ...forwarded, version: version ?? 1 })
    client.write('login_plugin_response', { messageId: request.messageId, data: signed(secret, data) })
  })
  client.success = client.packet('success')
  client.joined = client.packet('login')
  return client
}

ctx.test('a player behind the proxy joins with the forwarded uuid, name and skin', async (t) => {
  const alice = profile('Alice', '198.51.100.20')
  // Typed in another case: the name the proxy vouches for wins.
  const client = proxiedClient(t, 'alice', { forwarded: alice })
  const success = await h.withTimeout(client.success, 20000, 'Login Success')
  assert.equal(client.requests.length, 1)
  assert.equal(client.requests[0].channel, 'velocity:player_info')
  assert.deepEqual([...client.requests[0].data], [1], 'the request asks for forwarding version 1 at most')
  assert.equal(success.uuid, alice.uuid, 'the forwarded uuid, not the offline one')
  assert.equal(success.username, 'Alice')
  assert.deepEqual(success.properties, alice.properties)
  await h.withTimeout(client.joined, 20000, 'Join Game')
  await t.server.waitForOutput(/player forwarded by the proxy.*address=198\.51\.100\.20/, { timeout: 5000 })

  // Another player sees Alice's skin in the tab list, as in online mode.
  const bob = profile('Bob', '198.51.100.21')
  const other = proxiedClient(t, 'Bob', { forwarded: bob })
  await h.withTimeout(other.joined, 20000, 'Bob\'s Join Game')
  const seen = await h.waitFor(() => h.tabProperties(other, 'Alice'), { timeout: 10000, message: 'Bob to get Alice\'s tab entry' })
  assert.deepEqual(seen.find((p) => p.name === 'textures'), alice.properties[0])
  assert.doesNotMatch(t.server.output, new RegExp(SECRET), 'the secret is never logged')
})

ctx.test('player info signed with another secret is refused', async (t) => {
  const client = proxiedClient(t, 'Mallory', { forwarded: profile('Mallory', '198.51.100.30'), secret: 'not-the-proxy-secret' })
  assert.equal(await h.refusal(client), UNVERIFIED)
  await t.server.waitForOutput(/forwarded login refused: the player info is not signed with the forwarding secret/, { timeout: 5000 })
})

ctx.test('a client that connects directly is refused', async (t) => {
  const client = proxiedClient(t, 'Direct', { answer: 'direct' })
  assert.equal(await h.refusal(client), NOT_PROXIED)
  assert.equal(client.requests.length, 1, 'the server asked for player info')
})

ctx.test('a client that never answers the forwarding request is refused with the reason', async (t) => {
  const started = Date.now()
  const client = proxiedClient(t, 'Silent', { answer: 'silent' })
  assert.equal(await h.refusal(client, 12000), NOT_PROXIED)
  assert.equal(client.requests.length, 1)
  const waited = Date.now() - started
  assert.ok(waited >= 4000 && waited < 10000, `refused after ${waited} ms, expected about 5 s`)
})

ctx.test('a forwarding version this server does not know is refused naming it', async (t) => {
  const client = proxiedClient(t, 'Future', { forwarded: profile('Future', '198.51.100.40'), version: 4 })
  assert.equal(await h.refusal(client), 'Unsupported forwarding version 4, wanted up to 1')
})

ctx.test('an IP ban matches the forwarded address, not the proxy\'s', async (t) => {
  await t.server.command('ban-ip 203.0.113.9 behind the proxy', /Banned IP 203\.0\.113\.9/)
  // Both connections come from 127.0.0.1 (the "proxy"); only the forwarded address differs.
  const banned = proxiedClient(t, 'Banned', { forwarded: profile('Banned', '203.0.113.9') })
  const reason = await h.refusal(banned)
  assert.match(reason, /You are banned from this server/)
  assert.match(reason, /behind the proxy/)
  const neighbour = proxiedClient(t, 'Neighbour', { forwarded: profile('Neighbour', '203.0.113.10') })
  await h.withTimeout(neighbour.joined, 20000, 'the player from another forwarded address to join')
  await t.server.command('pardon-ip 203.0.113.9', /203\.0\.113\.9/)
})

ctx.test('with online mode on as well, forwarding wins: no encryption, no session server', async (t) => {
  // The session server address is a closed port: asking it would refuse the login.
  const server = await h.startServer({
    name: 'velocity-online',
    config: { server: { forwarding: 'velocity', online_mode: true, session_server: 'http://127.0.0.1:9' } },
    env: { TESSERA_SERVER_FORWARDING_SECRET: SECRET }
  })
  try {
    await server.waitForOutput('server.online_mode is left to the proxy', { timeout: 5000 })
    const carol = profile('Carol', '198.51.100.50')
    const client = proxiedClient(t, 'Carol', { forwarded: carol, server })
    const success = await h.withTimeout(client.success, 20000, 'Login Success')
    assert.equal(success.uuid, carol.uuid)
    assert.equal(client.cipher, null, 'the connection is not encrypted: the proxy did that')
    await h.withTimeout(client.joined, 20000, 'Join Game')
  } finally {
    await server.close()
    for (const dir of [server.dir, server.cwd]) fs.rmSync(dir, { recursive: true, force: true })
  }
})

ctx.test('with the login gate on, a forwarded player is not asked to /register: the proxy vouched for it', async (t) => {
  const server = await h.startServer({
    name: 'velocity-gate',
    config: { server: { forwarding: 'velocity' }, auth: { require_login: true } },
    env: { TESSERA_SERVER_FORWARDING_SECRET: SECRET }
  })
  try {
    const dave = profile('Dave', '198.51.100.60')
    const client = proxiedClient(t, 'Dave', { forwarded: dave, server })
    const prompts = []
    client.on('system_chat', (p) => prompts.push(String(p.content)))
    await h.withTimeout(client.joined, 20000, 'Join Game')
    await h.sleep(3000)
    assert.ok(!prompts.some((text) => /Please (register|log in)/.test(text)), `prompted: ${JSON.stringify(prompts)}`)
    assert.ok(!client.isEnded, 'the forwarded player was disconnected')
  } finally {
    await server.close()
    for (const dir of [server.dir, server.cwd]) fs.rmSync(dir, { recursive: true, force: true })
  }
})
