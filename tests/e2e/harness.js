'use strict'
// Test harness for Tessera end-to-end tests.
//
// - starts a real `tessera` process on a random free port with a config in a temp dir,
//   waits for `listening on`, captures stdout/stderr to a log file (kept under
//   tests/e2e/logs/), writes console lines to its stdin, stops/kills it;
// - creates mineflayer bots / raw minecraft-protocol clients (1.20.1, offline);
// - bounded wait helpers (every wait has a timeout);
// - collects protocol parse problems (console output of minecraft-protocol/protodef,
//   client 'error' events) and fails the test that saw them.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const net = require('node:net')
const util = require('node:util')
const { spawn } = require('node:child_process')
const assert = require('node:assert/strict')
const { test: nodeTest, before, after } = require('node:test')

const VERSION = '1.20.1'
const PROTOCOL = 763
const REPO_ROOT = path.resolve(__dirname, '..', '..')
const BIN = process.env.TESSERA_BIN || path.join(REPO_ROOT, 'target', 'release', 'tessera')
const LOG_DIR = process.env.TESSERA_TEST_LOG_DIR || path.join(__dirname, 'logs')

// ---------------------------------------------------------------------------
// Protocol problem collection
// ---------------------------------------------------------------------------

const PROBLEM_PATTERNS = [
  /PartialReadError/i,
  /Chunk size is \d+ but only \d+ was read/i,
  /Parse error for/i,
  /Serialization error for/i,
  /Deserializ/i,
  /chunk failed to load/i,
  /Received update for unknown/i,
  /Unknown team mode/i,
  /invalid (?:varint|packet|string|nbt)/i,
  /RangeError/
]

const problems = [] // { source, message, time }
const consoleLines = [] // every console line the test process printed (for debugging)

function isProblemText (text) {
  return PROBLEM_PATTERNS.some((re) => re.test(text))
}

function recordProblem (source, message) {
  problems.push({ source, message: String(message).slice(0, 2000), time: new Date().toISOString() })
}

// Intercept console output: minecraft-protocol/protodef report parse problems there.
for (const level of ['log', 'error', 'warn', 'info', 'debug', 'trace']) {
  const original = console[level].bind(console)
  console[level] = (...args) => {
    let text
    try { text = util.format(...args) } catch (_) { text = String(args[0]) }
    consoleLines.push(text)
    if (consoleLines.length > 5000) consoleLines.splice(0, 1000)
    if (isProblemText(text)) recordProblem(`console.${level}`, text)
    original(...args)
  }
}

const NETWORK_ERROR_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ECONNABORTED', 'ERR_STREAM_WRITE_AFTER_END', 'ERR_STREAM_DESTROYED'])

function isNetworkError (err) {
  return !!err && (NETWORK_ERROR_CODES.has(err.code) || /write after end|socket hang up|This socket has been ended/i.test(String(err.message)))
}

function watchClientErrors (emitter, label, opts = {}) {
  emitter.on('error', (err) => {
    const msg = `${label}: ${err && err.stack ? err.stack : err}`
    if (isProblemText(msg) || err?.partialReadError) {
      recordProblem(`${label} error event`, msg)
    } else if (isNetworkError(err) && opts.allowNetworkErrors) {
      // expected: the server closed the connection on purpose
    } else {
      recordProblem(`${label} error event`, msg)
    }
  })
}

function problemCount () { return problems.length }

function problemsSince (index) { return problems.slice(index) }

function assertNoProtocolProblems (since = 0, context = '') {
  const list = problemsSince(since)
  if (list.length) {
    const text = list.map((p) => `[${p.time}] ${p.source}: ${p.message}`).join('\n')
    assert.fail(`protocol problems reported by clients${context ? ' (' + context + ')' : ''}:\n${text}`)
  }
}

// ---------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function withTimeout (promise, ms, message) {
  let timer
  const timeout = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${message}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

// Resolves with the promise's value, or with `fallback` after `ms` (the timer is cleared either way).
async function settleWithin (promise, ms, fallback = null) {
  let timer
  const t = new Promise((resolve) => { timer = setTimeout(() => resolve(fallback), ms) })
  try {
    return await Promise.race([promise, t])
  } finally {
    clearTimeout(timer)
  }
}

// Poll `predicate` until it returns a truthy value; returns that value.
async function waitFor (predicate, { timeout = 10000, interval = 50, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout
  let lastError
  while (true) {
    try {
      const value = await predicate()
      if (value) return value
    } catch (err) {
      if (err && err.fatal) throw err
      lastError = err
    }
    if (Date.now() > deadline) {
      const extra = lastError ? ` (last error: ${lastError.message})` : ''
      let text = message
      if (typeof message === 'function') { try { text = message() } catch (e) { text = `(message failed: ${e.message})` } }
      throw new Error(`timeout after ${timeout} ms waiting for ${text}${extra}`)
    }
    await sleep(interval)
  }
}

// Wait for `event` on `emitter` whose arguments satisfy `filter`; resolves with the argument array.
function waitForEvent (emitter, event, { timeout = 10000, filter = () => true, message } = {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.removeListener(event, listener)
      const text = typeof message === 'function' ? message() : message
      reject(new Error(`timeout after ${timeout} ms waiting for event '${event}'${text ? ': ' + text : ''}`))
    }, timeout)
    function listener (...args) {
      let ok = false
      try { ok = filter(...args) } catch (_) { ok = false }
      if (!ok) return
      clearTimeout(timer)
      emitter.removeListener(event, listener)
      resolve(args)
    }
    emitter.on(event, listener)
  })
}

// Assert that `event` (matching filter) does NOT happen within `ms`.
async function expectNoEvent (emitter, event, ms, { filter = () => true, message } = {}) {
  let seen = null
  function listener (...args) {
    let ok = false
    try { ok = filter(...args) } catch (_) { ok = false }
    if (ok && !seen) seen = args
  }
  emitter.on(event, listener)
  try {
    await sleep(ms)
  } finally {
    emitter.removeListener(event, listener)
  }
  if (seen) assert.fail(`unexpected event '${event}'${message ? ' (' + message + ')' : ''}: ${util.inspect(seen, { depth: 2 }).slice(0, 500)}`)
}

// Plain text of a chat component (JSON string, object, or NBT-ish object).
function chatText (component) {
  if (component === null || component === undefined) return ''
  if (typeof component === 'string') {
    const s = component.trim()
    if (s.startsWith('{') || s.startsWith('[') || s.startsWith('"')) {
      try { return chatText(JSON.parse(s)) } catch (_) { return component }
    }
    return component
  }
  if (Array.isArray(component)) return component.map(chatText).join('')
  if (typeof component === 'object') {
    // prismarine-nbt simplified or raw nbt
    if (component.type && component.value !== undefined && typeof component.type === 'string') {
      return chatText(component.value)
    }
    let out = ''
    if (component.text !== undefined) out += chatText(component.text)
    else if (component[''] !== undefined) out += chatText(component[''])
    if (component.translate !== undefined) {
      const key = chatText(component.translate)
      const withArgs = (component.with ? (Array.isArray(component.with) ? component.with : [component.with]) : []).map(chatText)
      const known = {
        'multiplayer.disconnect.duplicate_login': 'You logged in from another location',
        'multiplayer.disconnect.server_full': 'The server is full!',
        'multiplayer.disconnect.kicked': 'Kicked by an operator',
        'multiplayer.disconnect.server_shutdown': 'Server closed',
        'disconnect.timeout': 'Timed out',
        'multiplayer.player.joined': '%s joined the game',
        'multiplayer.player.left': '%s left the game'
      }
      let template = known[key]
      if (template) {
        let i = 0
        template = template.replace(/%s/g, () => withArgs[i++] ?? '')
        out += template
      } else {
        out += key + (withArgs.length ? ' ' + withArgs.join(' ') : '')
      }
    }
    if (component.extra) out += (Array.isArray(component.extra) ? component.extra : [component.extra]).map(chatText).join('')
    return out
  }
  return String(component)
}

// Ports handed out by this process: a port is free when picked but only
// taken once its server binds, so the kernel may offer it again meanwhile
// (a cluster port picked for one node came back as another node's game port).
const portsHandedOut = new Set()

function pickPort () {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

async function freePort () {
  for (;;) {
    const port = await pickPort()
    if (!portsHandedOut.has(port)) {
      portsHandedOut.add(port)
      return port
    }
  }
}

// TOML rendering for our flat config object.
function tomlValue (v) {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  if (Array.isArray(v)) return '[' + v.map(tomlValue).join(', ') + ']'
  if (v && typeof v === 'object') {
    return '{ ' + Object.entries(v).map(([k, x]) => `${k} = ${tomlValue(x)}`).join(', ') + ' }'
  }
  throw new Error('unsupported TOML value ' + v)
}

function renderToml (config) {
  let out = ''
  for (const [section, values] of Object.entries(config)) {
    out += `[${section}]\n`
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) continue
      out += `${key} = ${tomlValue(value)}\n`
    }
    out += '\n'
  }
  return out
}

function mergeConfig (base, over) {
  const out = {}
  for (const section of new Set([...Object.keys(base), ...Object.keys(over || {})])) {
    out[section] = { ...(base[section] || {}), ...((over || {})[section] || {}) }
  }
  return out
}

// ---------------------------------------------------------------------------
// Server process
// ---------------------------------------------------------------------------

// eslint-disable-next-line no-control-regex
const ANSI_RE = /\x1b\[[0-9;?]*[ -\/]*[@-~]/g

const liveServers = new Set()
process.on('exit', () => {
  for (const s of liveServers) {
    try { s.child.kill('SIGKILL') } catch (_) {}
  }
})

class ServerProcess {
  constructor ({ child, port, dir, logPath, configPath, name }) {
    this.child = child
    this.port = port
    this.host = '127.0.0.1'
    this.dir = dir
    this.logPath = logPath
    this.configPath = configPath
    this.name = name
    this.output = ''
    this.exitInfo = null
    this.logStream = fs.createWriteStream(logPath)
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal }
        liveServers.delete(this)
        this._append(`\n[harness] server process exited code=${code} signal=${signal}\n`)
        resolve(this.exitInfo)
      })
    })
    const onData = (stream) => (chunk) => {
      this._append(chunk.toString('utf8'))
    }
    child.stdout.on('data', onData('stdout'))
    child.stderr.on('data', onData('stderr'))
    child.stdin.on('error', () => {})
  }

  _append (text) {
    this.output += text.replace(ANSI_RE, '')
    try { this.logStream.write(text) } catch (_) {}
    if (this.output.length > 20_000_000) this.output = this.output.slice(-10_000_000)
  }

  get running () { return this.exitInfo === null }

  // Offset into output; pass as `since` to wait only for new output.
  mark () { return this.output.length }

  tail (lines = 60) {
    const all = this.output.split('\n')
    return all.slice(-lines).join('\n')
  }

  async waitForOutput (pattern, { timeout = 10000, since = 0, message } = {}) {
    const test = (text) => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text))
    return waitFor(() => {
      const text = this.output.slice(since)
      if (test(text)) {
        if (typeof pattern === 'string') return text
        return text.match(pattern)
      }
      if (!this.running) throw Object.assign(new Error(`server exited (${JSON.stringify(this.exitInfo)}) while waiting for ${message || pattern}`), { fatal: true })
      return null
    }, { timeout, interval: 50, message: message || `server output matching ${pattern}` })
  }

  send (line) {
    this._append(`[harness] > ${line}\n`)
    this.child.stdin.write(line + '\n')
  }

  // Type a console command and wait for a line matching `pattern` printed after it.
  async command (line, pattern, { timeout = 10000 } = {}) {
    const since = this.mark()
    this.send(line)
    if (pattern) return this.waitForOutput(pattern, { timeout, since, message: `output of console command '${line}' matching ${pattern}` })
  }

  // Make `name` an operator (level 4) from the console; holds on every node of a cluster.
  async op (name) {
    return this.command(`op ${name}`, new RegExp(`Made ${name} a server operator`))
  }

  async stop ({ timeout = 15000 } = {}) {
    if (!this.running) return this.exitInfo
    try { this.send('stop') } catch (_) {}
    const res = await settleWithin(this.exited, timeout, null)
    if (res) return res
    this._append(`[harness] server did not exit within ${timeout} ms after 'stop'; killing\n`)
    return this.kill()
  }

  async kill () {
    if (!this.running) return this.exitInfo
    try { this.child.kill('SIGKILL') } catch (_) {}
    return withTimeout(this.exited, 5000, 'server exit after SIGKILL')
  }

  async close () {
    // Used by `after` hooks: stop politely, then make sure it is dead, then flush the log.
    try { await this.stop() } catch (_) { await this.kill().catch(() => {}) }
    await new Promise((resolve) => this.logStream.end(resolve))
  }
}

const DEFAULT_CONFIG = {
  server: {
    motd: 'A Tessera test server',
    max_players: 100,
    view_distance: 4,
    compression_threshold: 256
  },
  world: {
    generator: 'flat',
    seed: 0,
    spawn: { x: 0, z: 0 },
    region_size: 1,
    data_dir: 'data'
  },
  // Port 0: test servers must not fight over the default admin port.
  admin: {
    bind: '127.0.0.1:0'
  },
  // The login gate has its own tests (auth.test.js); the others play at once.
  auth: {
    require_login: false
  }
}

let serverCounter = 0

// The server treats every TESSERA_* variable as a config override (and refuses unknown ones),
// so the test runner's own variables (TESSERA_BIN, TESSERA_TEST_*, ...) are not passed on.
function serverEnv () {
  const out = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('TESSERA_')) out[k] = v
  }
  return out
}

// `netns`: run the server inside that network namespace (`ip netns exec`,
// which execs it, so `child.pid` is still the server's), reached at `host`.
async function startServer ({ name = 'server', config = {}, env = {}, port, startTimeout = 60000, bindOverride, netns, host = '127.0.0.1' } = {}) {
  if (!fs.existsSync(BIN)) {
    throw new Error(`tessera binary not found at ${BIN} (build with 'cargo build --release' or set TESSERA_BIN)`)
  }
  port = port || await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tessera-e2e-${name}-`))
  const full = mergeConfig(DEFAULT_CONFIG, config)
  full.server.bind = full.server.bind || `${host}:${port}`
  const configPath = path.join(dir, 'config.toml')
  fs.writeFileSync(configPath, renderToml(full))
  fs.mkdirSync(LOG_DIR, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const logPath = path.join(LOG_DIR, `${name}-${stamp}-${process.pid}-${serverCounter++}.log`)
  const listenPort = bindOverride ? Number(bindOverride.split(':').pop()) : port
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-e2e-cwd-'))
  const [command, args] = netns ? ['ip', ['netns', 'exec', netns, BIN, '--config', configPath]] : [BIN, ['--config', configPath]]
  const child = spawn(command, args, {
    cwd,
    env: { ...serverEnv(), RUST_BACKTRACE: '1', NO_COLOR: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  const server = new ServerProcess({ child, port: listenPort, dir, logPath, configPath, name })
  server.host = host
  server.cwd = cwd
  server.config = full
  liveServers.add(server)
  server._append(`[harness] ${BIN} --config ${configPath}\n[harness] config:\n${renderToml(full)}\n`)
  child.on('error', (err) => server._append(`[harness] spawn error: ${err.stack}\n`))
  try {
    await server.waitForOutput('listening on', { timeout: startTimeout, message: "'listening on' in server output" })
  } catch (err) {
    await server.close()
    throw new Error(`server did not start: ${err.message}\n--- server log (${logPath}) ---\n${server.tail(80)}`)
  }
  // The log line must name the address we asked for.
  const m = server.output.match(/listening on\s+(\S+)/)
  if (m && !m[1].includes(String(listenPort))) {
    server._append(`[harness] warning: 'listening on' line names ${m[1]}, expected port ${listenPort}\n`)
  }
  return server
}

// One node of a cluster on 127.0.0.1. `nodes` maps node id -> cluster port;
// every node gets all of them as seeds. `shared` is the world folder the
// nodes share.
// A cluster node, by default once /readyz says ready: a new cluster's
// register replicas start only after they have heard from one another, and a
// join before that is refused. `waitReady: false` for a node that is not
// meant to become ready (a wrong secret) or whose readiness is under test.
async function startClusterNode (id, nodes, { secret, shared, name = `node${id}`, config = {}, env = {}, waitReady = true }) {
  const seeds = Object.entries(nodes).map(([node, port]) => `${node}@127.0.0.1:${port}`)
  const server = await startServer({
    name,
    config: {
      ...config,
      server: { view_distance: 3, ...(config.server || {}) },
      world: { region_size: 1, data_dir: shared, ...(config.world || {}) },
      cluster: { node_id: id, bind: `127.0.0.1:${nodes[id]}`, seeds }
    },
    env: { ...env, TESSERA_CLUSTER_SECRET: secret }
  })
  if (waitReady) {
    await waitFor(async () => (await fetch(`${await adminUrl(server)}/readyz`)).status === 200, {
      timeout: 45000, interval: 200, message: `${name} to be ready (/readyz)`
    })
  }
  return server
}

// A test file's cluster: the shared world folder, the nodes it starts and the
// bots it joins, all stopped and removed after the file.
function clusterFixture (label) {
  const fx = {
    shared: fs.mkdtempSync(path.join(os.tmpdir(), `tessera-e2e-${label}-`)),
    servers: [],
    clients: new Set()
  }
  after(async () => {
    await quitAll(fx.clients)
    for (const s of fx.servers) {
      await s.close().catch(() => {})
      process.stdout.write(`# server log for ${s.name}: ${s.logPath}\n`)
    }
    fs.rmSync(fx.shared, { recursive: true, force: true })
  }, { timeout: 60000 })
  // op: make the player an operator first (tp, gamemode and the like need it)
  fx.join = async (server, name, { op = false } = {}) => {
    if (op) await server.op(name)
    const bot = await joinBot(server, name)
    fx.clients.add(bot)
    return bot
  }
  return fx
}

// ---------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------

let mineflayer = null
let mc = null
function lib () {
  if (!mineflayer) {
    mineflayer = require('mineflayer')
    mc = require('minecraft-protocol')
  }
  return { mineflayer, mc }
}

const liveClients = new Set()

// Counts packets received by name (for failure messages).
function countPackets (client) {
  const counts = {}
  client.on('packet', (_data, meta) => { counts[meta.name] = (counts[meta.name] || 0) + 1 })
  return counts
}

// One-line description of what a client has seen, for failure messages.
function describeClient (c) {
  const client = c._client || c
  const counts = Object.entries(c.packetCounts || {}).map(([k, v]) => `${k}=${v}`).join(' ')
  const flags = c.sawSpawn !== undefined || c.sawForcedMove !== undefined || c.entity ? ` spawn-event=${!!c.sawSpawn} forced-move=${!!c.sawForcedMove} position=${c.entity && c.entity.position}` : ''
  return `${c.label}: state=${client.state} ended=${!!c.isEnded}${flags} kicks=${JSON.stringify((c.kicks || []).map((k) => k.text))} received packets: ${counts || 'none'}`
}

function trackClient (client, label) {
  liveClients.add(client)
  client.once('end', () => liveClients.delete(client))
}

// Create a mineflayer bot without waiting for it to spawn.
// The bot gets extra fields:
//   bot.label, bot.kicks [{reason, text, loggedIn}], bot.whenEnded (promise of the 'end' reason),
//   bot.spawned (promise: 'spawn' event AND first forced position), bot.endReason
function createBot (server, username, opts = {}) {
  const { mineflayer } = lib()
  // mineflayer installs its plugins on a timer after createBot returns. A
  // server that answered within that millisecond had its Join Game missed by
  // them: no world, the first chunk threw inside the client, and the bot
  // never spawned. So the socket opens only once the plugins are in.
  let client = null
  const bot = mineflayer.createBot({
    host: server.host,
    port: server.port,
    username,
    version: VERSION,
    auth: 'offline',
    logErrors: false,
    hideErrors: false,
    checkTimeoutInterval: 60000,
    connect: (c) => { client = c },
    ...opts.botOptions
  })
  bot.once('inject_allowed', () => client.setSocket(net.connect(server.port, server.host)))
  bot.label = `bot ${username}`
  bot.packetCounts = countPackets(bot._client)
  bot.kicks = []
  bot.chatLog = [] // every system/chat message string received
  bot.endReason = null
  bot.isEnded = false
  watchClientErrors(bot, bot.label, { allowNetworkErrors: !!opts.allowNetworkErrors })
  bot.on('kicked', (reason, loggedIn) => {
    bot.kicks.push({ reason, text: chatText(reason), loggedIn })
  })
  bot.on('messagestr', (msg) => { bot.chatLog.push(msg) })
  // The names under the root of each command tree (declare_commands) received, in order.
  bot.commandTrees = []
  bot._client.on('declare_commands', (packet) => {
    const root = packet.nodes[packet.rootIndex]
    bot.commandTrees.push(root.children.map((i) => packet.nodes[i].extraNodeData && packet.nodes[i].extraNodeData.name))
  })
  bot.whenEnded = new Promise((resolve) => {
    bot.once('end', (reason) => {
      bot.isEnded = true
      bot.endReason = reason
      resolve(reason)
    })
  })
  let spawnedFlag = false
  let placedFlag = false
  bot.spawned = new Promise((resolve, reject) => {
    const check = () => { if (spawnedFlag && placedFlag) resolve() }
    bot.once('spawn', () => { spawnedFlag = true; bot.sawSpawn = true; check() })
    bot.once('forcedMove', () => { placedFlag = true; bot.sawForcedMove = true; check() })
    bot.whenEnded.then((reason) => reject(new Error(`${bot.label} disconnected before spawning: ${reason}; kicks: ${JSON.stringify(bot.kicks.map((k) => k.text))}`)))
  })
  bot.spawned.catch(() => {})
  trackClient(bot, bot.label)
  return bot
}

// Create a bot and wait until it has spawned, been placed, and loaded the chunks around it.
async function joinBot (server, username, opts = {}) {
  const bot = createBot(server, username, opts)
  try {
    await withTimeout(bot.spawned, opts.timeout || 20000, `${bot.label} to spawn ('spawn' event and a Synchronize Player Position)`)
    await withTimeout(bot.waitForChunksToLoad(), 15000, `${bot.label} to load the chunks around it`)
  } catch (err) {
    try { bot.quit() } catch (_) {}
    throw err
  }
  return bot
}

// Raw minecraft-protocol client; resolves after the Join Game packet (play state).
async function rawClient (server, username, opts = {}) {
  const { mc } = lib()
  const client = mc.createClient({
    host: server.host,
    port: server.port,
    username,
    version: VERSION,
    auth: 'offline',
    keepAlive: opts.keepAlive !== undefined ? opts.keepAlive : true,
    hideErrors: false
  })
  client.label = `raw client ${username}`
  client.packetCounts = countPackets(client)
  if (opts.onCreate) opts.onCreate(client)
  client.kicks = []
  client.isEnded = false
  watchClientErrors(client, client.label, { allowNetworkErrors: opts.allowNetworkErrors !== false })
  client.on('kick_disconnect', (p) => client.kicks.push({ reason: p.reason, text: chatText(p.reason), loggedIn: true, time: Date.now() }))
  client.on('disconnect', (p) => client.kicks.push({ reason: p.reason, text: chatText(p.reason), loggedIn: false, time: Date.now() }))
  client.whenEnded = new Promise((resolve) => client.once('end', (reason) => {
    client.isEnded = true
    client.endTime = Date.now()
    resolve(reason)
  }))
  trackClient(client, client.label)
  // Minecraft 1.20.1: the 'login' event is the Join Game packet.
  await withTimeout(Promise.race([
    waitForEvent(client, 'login', { timeout: 20000 }),
    client.whenEnded.then((r) => { throw new Error(`${client.label} ended before Join Game: ${r}; kicks: ${JSON.stringify(client.kicks.map((k) => k.text))}`) })
  ]), 21000, `${client.label} to receive Join Game`)
  return client
}

// A minecraft-protocol client that the test drives through login itself
// (online mode, a proxy's forwarding): its kicks as text, every player_info
// packet, `whenEnded`, and `packet(name)`, a promise of the first such packet
// that fails naming why if the client ends first. Listen from the start:
// these packets can arrive together with Login Success.
function followLogin (client) {
  client.kicks = []
  client.playerInfo = []
  client.on('player_info', (p) => client.playerInfo.push(p))
  client.on('error', (err) => {
    // The server closing a refused client is expected; anything else is a problem.
    if (!/ECONNRESET|EPIPE|socket hang up|write after end/i.test(String(err && err.message))) {
      recordProblem(`${client.label} error event`, err && err.stack ? err.stack : err)
    }
  })
  client.on('disconnect', (p) => client.kicks.push(chatText(p.reason)))
  client.on('kick_disconnect', (p) => client.kicks.push(chatText(p.reason)))
  client.whenEnded = new Promise((resolve) => client.once('end', (reason) => {
    client.isEnded = true
    resolve(reason)
  }))
  client.packet = (name) => {
    const seen = Promise.race([
      waitForEvent(client, name, { timeout: 20000 }).then(([p]) => p),
      client.whenEnded.then((r) => { throw new Error(`${client.label} ended before '${name}': ${r}; kicks: ${JSON.stringify(client.kicks)}`) })
    ])
    seen.catch(() => {})
    return seen
  }
  return client
}

// Resolves with the reason the server refused a `followLogin` client.
async function refusal (client, timeout = 15000) {
  await withTimeout(client.whenEnded, timeout, `${client.label} to be refused`)
  if (client.kicks.length === 0) throw new Error(`${client.label} ended without a reason`)
  return client.kicks[0]
}

// Properties a `followLogin` client was told for player `name`, from
// player_info add entries.
function tabProperties (client, name) {
  for (const packet of client.playerInfo) {
    for (const entry of packet.data || []) {
      if (entry.player && entry.player.name === name) return entry.player.properties || []
    }
  }
  return null
}

function endClient (c) {
  if (c.isEnded) return
  try {
    if (typeof c.quit === 'function') c.quit()
    else c.end('bye')
  } catch (_) {}
}

async function quitAll (clients, timeout = 5000) {
  const list = [...clients].filter(Boolean)
  for (const c of list) endClient(c)
  await settleWithin(Promise.all(list.map((c) => c.whenEnded || Promise.resolve())), timeout)
  for (const c of list) {
    const client = c._client || c
    try { client.socket?.destroy() } catch (_) {}
    // minecraft-protocol's end() arms a 30 s timer that keeps the process alive
    try { clearTimeout(client.closeTimer) } catch (_) {}
  }
}

// ---------------------------------------------------------------------------
// Bot helpers
// ---------------------------------------------------------------------------

// The entity that `observer` sees for player `name` (or undefined).
// Records what `observer` sees happen to player `name` (tab list, entity spawn/despawn, chat
// join/leave lines), for failure messages: returns an array of strings, newest last.
function recordPlayerEvents (observer, name) {
  const events = []
  const t0 = Date.now()
  const at = () => `+${Date.now() - t0}ms`
  observer.on('playerJoined', (p) => { if (p.username === name) events.push(`${at()} tab add (uuid ${p.uuid})`) })
  observer.on('playerLeft', (p) => { if (p.username === name) events.push(`${at()} tab remove`) })
  observer.on('entitySpawn', (e) => { if (e.username === name) events.push(`${at()} entity spawn id=${e.id}`) })
  observer.on('entityGone', (e) => { if (e.username === name) events.push(`${at()} entity gone id=${e.id}`) })
  observer.on('messagestr', (m) => { if (m.includes(name)) events.push(`${at()} message ${JSON.stringify(m)}`) })
  return events
}

function seenPlayer (observer, name) {
  const p = observer.players[name]
  return p && p.entity && p.entity.isValid !== false ? p.entity : undefined
}

async function waitForSeenPlayer (observer, name, timeout = 10000) {
  return waitFor(() => seenPlayer(observer, name), { timeout, message: `${observer.label} to see the player entity of ${name}` })
}

// Wait until `bot` receives a chat/system message matching `pattern`.
async function waitForMessage (bot, pattern, { timeout = 10000, since = 0 } = {}) {
  const test = (s) => (typeof pattern === 'string' ? s.includes(pattern) : pattern.test(s))
  return waitFor(() => bot.chatLog.slice(since).find(test), {
    timeout,
    message: () => `${bot.label} to receive a message matching ${pattern} (last messages: ${JSON.stringify(bot.chatLog.slice(-10))})`
  })
}

function blockName (bot, pos) {
  const b = bot.blockAt(pos)
  return b ? b.name : null
}

async function waitForBlock (bot, pos, name, timeout = 10000) {
  return waitFor(() => blockName(bot, pos) === name, {
    timeout,
    message: () => `${bot.label} to see ${name} at ${pos} (sees ${blockName(bot, pos)})`
  })
}

// Walk with real movement (client physics) towards +x/-x/+z/-z until `done(bot)` or timeout.
async function walk (bot, { toward, until, timeout = 30000, sprint = false }) {
  const { Vec3 } = require('vec3')
  const eye = bot.entity.position.offset(0, 1.62, 0)
  await bot.lookAt(new Vec3(toward.x, eye.y, toward.z), true)
  bot.setControlState('sprint', sprint)
  bot.setControlState('forward', true)
  try {
    await waitFor(() => {
      if (bot.isEnded) throw new Error(`${bot.label} disconnected while walking: ${bot.endReason}`)
      return until(bot)
    }, { timeout, interval: 50, message: () => `${bot.label} to walk toward ${toward} (stuck at ${bot.entity.position}, onGround=${bot.entity.onGround})` })
  } finally {
    bot.clearControlStates()
  }
}

// ---------------------------------------------------------------------------
// Test file scaffolding
// ---------------------------------------------------------------------------

// Registers before/after hooks that start one server for the test file, and returns
// `ctx` with `ctx.server` (after `before`) and `ctx.test(name, fn, opts)`, a wrapper around
// node:test that
//   - gives fn a `t` with t.bot(name, opts) / t.rawClient(name, opts) that are closed at the end,
//   - appends the server log tail to any failure,
//   - asserts that no client reported a protocol problem during the test.
function setupServer ({ name, config = {}, env = {} } = {}) {
  const ctx = { server: null, fileClients: new Set() }
  before(async () => {
    ctx.server = await startServer({ name, config, env })
  }, { timeout: 90000 })
  after(async () => {
    await quitAll(ctx.fileClients)
    if (ctx.server) {
      await ctx.server.close()
      process.stdout.write(`# server log for ${name}: ${ctx.server.logPath}\n`)
      try { fs.rmSync(ctx.server.dir, { recursive: true, force: true }) } catch (_) {}
      try { fs.rmSync(ctx.server.cwd, { recursive: true, force: true }) } catch (_) {}
    }
  }, { timeout: 30000 })
  ctx.test = (title, fn, opts = {}) => defineTest(ctx, title, fn, opts)
  ctx.test.skip = (title, fn, opts = {}) => nodeTest(title, { ...opts, skip: true }, fn)
  return ctx
}

function defineTest (ctx, title, fn, opts) {
  const timeout = opts.timeout || 60000
  nodeTest(title, { timeout: timeout + 10000 }, async (t) => {
    if (!ctx.server) assert.fail('server did not start (see before hook)')
    const clients = new Set()
    const helpers = {
      t,
      server: ctx.server,
      // botOpts.op: make the player an operator first (tp, gamemode and the like need it)
      bot: async (username, botOpts = {}) => {
        if (botOpts.op) await ctx.server.op(username)
        const b = createBot(ctx.server, username, botOpts)
        clients.add(b)
        try {
          await withTimeout(b.spawned, botOpts.timeout || 20000, `${b.label} to spawn ('spawn' event and a Synchronize Player Position)`)
          await withTimeout(b.waitForChunksToLoad(), 15000, `${b.label} to load the chunks around it`)
        } catch (err) {
          err.message += `\n${describeClient(b)}`
          throw err
        }
        return b
      },
      createBot: (username, botOpts = {}) => {
        const b = createBot(ctx.server, username, botOpts)
        clients.add(b)
        return b
      },
      // registered through onCreate, so it is closed even if its login fails
      rawClient: (username, rawOpts = {}) => rawClient(ctx.server, username, { ...rawOpts, onCreate: (c) => clients.add(c) }),
      track: (c) => { clients.add(c); return c }
    }
    const since = problemCount()
    const started = Date.now()
    try {
      await withTimeout(fn(helpers), timeout, `test '${title}'`)
      assertNoProtocolProblems(since, title)
    } catch (err) {
      const serverState = ctx.server.running ? 'running' : `exited ${JSON.stringify(ctx.server.exitInfo)}`
      const extraProblems = problemsSince(since)
      const note = `\n--- after ${((Date.now() - started) / 1000).toFixed(1)} s; server ${serverState}; log: ${ctx.server.logPath}` +
        (extraProblems.length && !/protocol problems/.test(err.message) ? `\n--- client protocol problems:\n${extraProblems.map((p) => p.source + ': ' + p.message).join('\n')}` : '') +
        `\n--- server log tail ---\n${ctx.server.tail(40)}\n--- end of server log tail ---`
      if (err && typeof err === 'object') {
        try { err.message = `${err.message}${note}` } catch (_) {}
        throw err
      }
      throw new Error(String(err) + note)
    } finally {
      await quitAll(clients)
    }
  })
}

// The `regions [node]` console command: region name ("r.x.z") -> owner node,
// and how many regions it says are placed (on that node, if given).
async function listRegions (server, node) {
  const since = server.mark()
  server.send(node ? `regions ${node}` : 'regions')
  const out = await server.waitForOutput(/(\d+) regions placed[^\n]*\n?((?:r\.-?\d+\.-?\d+ -> node \d+ \(epoch \d+\)\n?)*)/, { since, timeout: 5000 })
  const map = new Map()
  for (const m of out[0].matchAll(/r\.(-?\d+)\.(-?\d+) -> node (\d+)/g)) map.set(`r.${m[1]}.${m[2]}`, Number(m[3]))
  return { map, placed: Number(out[1]) }
}

// The base URL of a server's admin HTTP interface (/metrics, /readyz), from its log.
async function adminUrl (server) {
  const match = await server.waitForOutput(/admin interface on (http:\/\/\S+)/, { timeout: 10000 })
  return match[1]
}

// ---------------------------------------------------------------------------
// A small disk that can be filled (tmpfs), for full-disk tests
// ---------------------------------------------------------------------------

// Mounts a tmpfs of `size` (e.g. '8m') on `dir`, creating it. Returns
// { mounted: true } or, only when the kernel refuses with EPERM (not root,
// or no mount privilege in this container), { mounted: false, reason }, so
// the caller can skip with that reason; any other failure throws.
function mountTmpfs (dir, { size = '8m' } = {}) {
  const { spawnSync } = require('node:child_process')
  fs.mkdirSync(dir, { recursive: true })
  const res = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' })
  if (res.error) throw new Error(`cannot run mount: ${res.error.message}`)
  if (res.status === 0) return { mounted: true }
  const why = `${res.stderr || ''}${res.stdout || ''}`.trim()
  if (/operation not permitted|permission denied|must be superuser|only root/i.test(why)) {
    return { mounted: false, reason: `mount -t tmpfs refused (EPERM): ${why}` }
  }
  throw new Error(`mount -t tmpfs on ${dir} failed (exit ${res.status}): ${why}`)
}

// Unmounts what mountTmpfs mounted; a lazy unmount if something still holds it.
function unmountTmpfs (dir) {
  const { spawnSync } = require('node:child_process')
  const res = spawnSync('umount', [dir], { encoding: 'utf8' })
  if (res.status !== 0) spawnSync('umount', ['-l', dir], { encoding: 'utf8' })
}

// Bytes free on the filesystem holding `dir`.
function diskFree (dir) {
  const st = fs.statfsSync(dir)
  return st.bavail * st.bsize
}

// Writes a filler file in `dir` until the filesystem is full (ENOSPC), in
// ever smaller pieces so about 0 bytes are left. Returns the filler's path,
// for freeDisk.
function fillDisk (dir, name = 'filler.bin') {
  const file = path.join(dir, name)
  const fd = fs.openSync(file, 'a')
  try {
    for (let piece = 1 << 20; piece >= 1; piece >>= 2) {
      const buf = Buffer.alloc(piece, 0x5a)
      for (;;) {
        try {
          fs.writeSync(fd, buf)
        } catch (err) {
          if (err.code === 'ENOSPC') break
          throw err
        }
      }
    }
    try { fs.fsyncSync(fd) } catch (_) {}
  } finally {
    fs.closeSync(fd)
  }
  return file
}

// Deletes a filler written by fillDisk: the space comes back at once.
function freeDisk (file) {
  fs.rmSync(file, { force: true })
}

module.exports = {
  VERSION,
  PROTOCOL,
  REPO_ROOT,
  BIN,
  LOG_DIR,
  sleep,
  withTimeout,
  waitFor,
  waitForEvent,
  expectNoEvent,
  chatText,
  freePort,
  renderToml,
  startServer,
  startClusterNode,
  clusterFixture,
  adminUrl,
  listRegions,
  mountTmpfs,
  unmountTmpfs,
  diskFree,
  fillDisk,
  freeDisk,
  createBot,
  joinBot,
  rawClient,
  followLogin,
  refusal,
  tabProperties,
  quitAll,
  seenPlayer,
  describeClient,
  recordPlayerEvents,
  waitForSeenPlayer,
  waitForMessage,
  blockName,
  waitForBlock,
  walk,
  setupServer,
  problems,
  problemCount,
  problemsSince,
  assertNoProtocolProblems,
  recordProblem,
  isProblemText,
  lib
}
