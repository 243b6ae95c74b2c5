'use strict'
// Online mode: the RSA/AES key exchange and the session server's hasJoined, against a
// stand-in session server (session_server.js) running in this process.
const assert = require('node:assert/strict')
const { test, before, after } = require('node:test')
const h = require('./harness')
const { startSessionServer } = require('./session_server')

let sessions = null
let server = null
const clients = new Set()

before(async () => {
  sessions = await startSessionServer()
  server = await h.startServer({
    name: 'online',
    config: { server: { online_mode: true, session_server: sessions.url } }
  })
}, { timeout: 90000 })

after(async () => {
  await h.quitAll(clients)
  if (server) await server.close()
  if (sessions) await sessions.close()
})

let accountCounter = 0
// A fresh account on the stand-in; its id is a random-looking hex uuid.
function account (name) {
  accountCounter++
  const id = `${(0x1000 + accountCounter).toString(16)}a79f444e94726a5befca90e38${(0x100 + accountCounter).toString(16)}`.padEnd(32, '0')
  return sessions.addAccount({ name, id, accessToken: `token-${name}-${accountCounter}` })
}

function dashed (hex) {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

// A minecraft-protocol client that logs in as `acc` through the stand-in. With
// `join: false` it skips the session server's join, like a client without an account.
function onlineClient (acc, { username = acc.name, join = true } = {}) {
  const { mc } = h.lib()
  const client = mc.createClient({
    host: server.host,
    port: server.port,
    username,
    version: h.VERSION,
    sessionServer: sessions.url,
    // Stands in for a real Mojang/Microsoft login: what encrypt.js needs to call `join`.
    auth: (c, options) => {
      c.username = username
      c.session = { accessToken: acc.accessToken, selectedProfile: { id: acc.id, name: acc.name } }
      options.accessToken = acc.accessToken
      options.haveCredentials = join
      options.connect(c)
    },
    keepAlive: true,
    hideErrors: false
  })
  client.label = `online client ${username}`
  h.followLogin(client)
  client.success = client.packet('success')
  client.joined = client.packet('login')
  client.positioned = client.packet('position')
  clients.add(client)
  return client
}

// Resolves with the Join Game packet, or fails naming why the client ended.
function joinGame (client) {
  return h.withTimeout(client.joined, 21000, `${client.label} to receive Join Game`)
}

function wrap (title, fn, timeout = 60000) {
  test(title, { timeout: timeout + 10000 }, async () => {
    const since = h.problemCount()
    const mark = server.mark()
    try {
      await h.withTimeout(fn(), timeout, title)
      h.assertNoProtocolProblems(since, title)
      assert.doesNotMatch(server.output.slice(mark), /panicked/, 'the server panicked')
    } catch (err) {
      err.message += `\n--- ${server.logPath} ---\n${server.tail(30)}`
      throw err
    } finally {
      sessions.mode = 'ok'
      sessions.onJoin = (serverId) => serverId
      const mine = [...clients]
      clients.clear()
      await h.quitAll(mine)
    }
  })
}

wrap('a status ping still works in online mode', async () => {
  const { mc } = h.lib()
  const status = await h.withTimeout(mc.ping({ host: server.host, port: server.port, version: h.VERSION }), 5000, 'status ping')
  assert.equal(status.version.protocol, h.PROTOCOL)
  assert.equal(h.chatText(status.description), 'A Tessera test server')
  assert.deepEqual(sessions.hasJoinedCalls, [], 'a ping does not ask the session server')
})

wrap('a player the session server vouches for joins encrypted, with its account uuid, name and skin', async () => {
  const acc = account('Alice')
  // The client types its name in another case: the session server's spelling wins.
  const alice = onlineClient(acc, { username: 'alice' })
  const success = await h.withTimeout(alice.success, 20000, 'Login Success')
  assert.ok(alice.cipher, 'the connection is encrypted')
  assert.equal(success.uuid, dashed(acc.id), 'the account uuid, not the offline one')
  assert.equal(success.username, 'Alice')
  const textures = (success.properties || []).find((p) => p.name === 'textures')
  assert.ok(textures, `Login Success carries the textures property: ${JSON.stringify(success.properties)}`)
  assert.deepEqual(textures, sessions.profileOf(acc).properties[0], 'the textures property as the session server signed it')
  await joinGame(alice)
  await h.withTimeout(alice.positioned, 21000, 'a player position')
  // The server asked about exactly the hash the client announced.
  const joined = sessions.joinCalls.filter((c) => c.id === acc.id)
  const asked = sessions.hasJoinedCalls.filter((c) => c.username === 'alice')
  assert.equal(joined.length, 1)
  assert.deepEqual(asked, [{ username: 'alice', serverId: joined[0].serverId, status: 200 }])
  assert.match(joined[0].serverId, /^-?[0-9a-f]{1,40}$/, 'a Notchian hex digest')
})

wrap('other players see a player\'s skin in the tab list', async () => {
  const carolAcc = account('Carol')
  const daveAcc = account('Dave')
  const carol = onlineClient(carolAcc)
  await joinGame(carol)
  const dave = onlineClient(daveAcc)
  await joinGame(dave)
  const skinOf = (acc) => sessions.profileOf(acc).properties[0]
  // Dave learns of Carol from the list of players already online...
  const carolSeen = await h.waitFor(() => h.tabProperties(dave, 'Carol'), { timeout: 10000, message: 'Dave to get Carol\'s tab entry' })
  const carolSkin = carolSeen.find((p) => p.name === 'textures')
  assert.ok(carolSkin, `Carol's tab entry has her textures: ${JSON.stringify(carolSeen)}`)
  assert.equal(carolSkin.value, skinOf(carolAcc).value)
  assert.equal(carolSkin.signature, skinOf(carolAcc).signature)
  // ...and Carol of Dave from the announcement of his arrival.
  const daveSeen = await h.waitFor(() => h.tabProperties(carol, 'Dave'), { timeout: 10000, message: 'Carol to get Dave\'s tab entry' })
  assert.equal(daveSeen.find((p) => p.name === 'textures')?.value, skinOf(daveAcc).value)
})

wrap('a player that did not join through the session server is refused', async () => {
  const acc = account('Mallory')
  const mallory = onlineClient(acc, { join: false })
  assert.equal(await h.refusal(mallory), 'Failed to verify username!')
  assert.deepEqual(sessions.hasJoinedCalls.filter((c) => c.username === 'Mallory').map((c) => c.status), [204])
  await server.waitForOutput(/online-mode login failed.*Mallory|Mallory.*online-mode login failed/, { since: 0, timeout: 5000, message: 'the refusal in the server log' })
})

wrap('a player whose join names another server hash (a man in the middle) is refused', async () => {
  const acc = account('Trudy')
  // The stand-in records the join under a hash computed for some other server key.
  sessions.onJoin = (serverId) => serverId.startsWith('-') ? serverId.slice(1) : `-${serverId}`
  const trudy = onlineClient(acc)
  assert.equal(await h.refusal(trudy), 'Failed to verify username!')
  assert.ok(trudy.cipher, 'the refusal came over the encrypted connection')
})

wrap('a session server that errors or does not answer refuses logins with a clear reason', async () => {
  sessions.mode = 'down'
  const first = onlineClient(account('Oscar'))
  assert.equal(await h.refusal(first), 'Failed to verify username!')
  await server.waitForOutput(/session server answered HTTP 500/, { since: 0, timeout: 5000, message: 'the HTTP status in the server log' })
  sessions.mode = 'hang'
  const started = Date.now()
  const second = onlineClient(account('Peggy'))
  assert.equal(await h.refusal(second, 15000), 'Authentication servers are down. Please try again later, sorry!')
  const waited = Date.now() - started
  assert.ok(waited >= 4500 && waited < 12000, `refused after the 5 s timeout, not ${waited} ms`)
  await server.waitForOutput(/did not answer within 5 s/, { since: 0, timeout: 5000, message: 'the timeout in the server log' })
  // The server is still serving: an honest player gets in once the session server is back.
  sessions.mode = 'ok'
  await joinGame(onlineClient(account('Victor')))
}, 60000)
