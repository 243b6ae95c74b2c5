'use strict'
// A stand-in for Mojang's session server, for online-mode tests: plain HTTP on 127.0.0.1.
//
//   POST /session/minecraft/join       {accessToken, selectedProfile, serverId}
//        what a client calls before answering the server's Encryption Request;
//        204 when the token belongs to the profile, 403 otherwise
//   GET  /session/minecraft/hasJoined?username=<name>&serverId=<hash>
//        what the server calls: 200 with {id, name, properties} when that account
//        joined with that server hash, else 204 (as Mojang answers)
//
// Accounts live in memory (`addAccount`). `mode` makes hasJoined (the server's side)
// misbehave: 'down' answers 500, 'hang' never answers. `onJoin` may rewrite a join's
// server hash, standing in for a client that hashed another server's key (a man in
// the middle).
//
// In a test: `const sessions = await startSessionServer()`; standalone:
// `node session_server.js [port] [accounts.json]` (an array of addAccount arguments).

const http = require('node:http')
const fs = require('node:fs')

// A skin as Mojang encodes it: base64 of a JSON document naming the texture URL.
function texturesProperty (account) {
  const value = Buffer.from(JSON.stringify({
    timestamp: account.created,
    profileId: account.id,
    profileName: account.name,
    textures: { SKIN: { url: account.skinUrl } }
  })).toString('base64')
  // Clients check this against Mojang's key; test clients do not, so any bytes do.
  const signature = Buffer.from(`stand-in signature for ${account.name}`).toString('base64')
  return { name: 'textures', value, signature }
}

async function startSessionServer ({ port = 0 } = {}) {
  const accounts = new Map() // id (hex, no dashes) -> account
  const joins = new Set() // `${id}:${serverId}`
  const sockets = new Set()
  const state = {
    url: null,
    port: null,
    mode: 'ok',
    onJoin: (serverId) => serverId,
    joinCalls: [], // {id, serverId}
    hasJoinedCalls: [], // {username, serverId, status}

    addAccount ({ name, id, accessToken, skinUrl }) {
      const account = {
        name,
        id: id.replace(/-/g, '').toLowerCase(),
        accessToken,
        skinUrl: skinUrl || `http://textures.invalid/skin/${name}`,
        created: Date.now()
      }
      accounts.set(account.id, account)
      return account
    },

    profileOf (account) {
      return { id: account.id, name: account.name, properties: [texturesProperty(account)] }
    },

    close () {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    }
  }

  function reply (res, status, body) {
    if (body === undefined) {
      res.writeHead(status)
      return res.end()
    }
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }

  function join (req, res) {
    let data = ''
    req.setEncoding('utf8')
    req.on('data', (chunk) => { data += chunk })
    req.on('end', () => {
      let body
      try { body = JSON.parse(data) } catch (_) { return reply(res, 400, { error: 'bad JSON' }) }
      const id = String(body.selectedProfile || '').replace(/-/g, '').toLowerCase()
      const account = accounts.get(id)
      state.joinCalls.push({ id, serverId: body.serverId })
      if (!account || account.accessToken !== body.accessToken) {
        return reply(res, 403, { error: 'ForbiddenOperationException', errorMessage: 'Invalid token.' })
      }
      joins.add(`${id}:${state.onJoin(body.serverId)}`)
      reply(res, 204)
    })
  }

  function hasJoined (url, res) {
    const username = url.searchParams.get('username') || ''
    const serverId = url.searchParams.get('serverId') || ''
    const account = [...accounts.values()].find((a) => a.name.toLowerCase() === username.toLowerCase())
    const ok = account && joins.has(`${account.id}:${serverId}`)
    state.hasJoinedCalls.push({ username, serverId, status: ok ? 200 : 204 })
    if (!ok) return reply(res, 204)
    reply(res, 200, state.profileOf(account))
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://stand-in')
    if (req.method === 'POST' && url.pathname === '/session/minecraft/join') return join(req, res)
    if (req.method === 'GET' && url.pathname === '/session/minecraft/hasJoined') {
      if (state.mode === 'hang') return // never answers; `close` ends the socket
      if (state.mode === 'down') return reply(res, 500, { error: 'down for the test' })
      return hasJoined(url, res)
    }
    reply(res, 404, { error: 'Not Found' })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  state.port = server.address().port
  state.url = `http://127.0.0.1:${state.port}`
  return state
}

module.exports = { startSessionServer, texturesProperty }

if (require.main === module) {
  const port = Number(process.argv[2] || 0)
  const accountsFile = process.argv[3]
  startSessionServer({ port }).then((sessions) => {
    if (accountsFile) {
      for (const account of JSON.parse(fs.readFileSync(accountsFile, 'utf8'))) sessions.addAccount(account)
    }
    console.log(`session server stand-in listening on ${sessions.url}`)
  }, (err) => {
    console.error(err)
    process.exit(1)
  })
}
