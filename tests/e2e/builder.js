'use strict'
// A builder for durability tests: sends block placements and digs as fast
// as a client may, and keeps, for every position, the last block state the
// server confirmed (a Block Update) and the states it was asked for since.
// After a crash the block there must be the confirmed state or one of those
// asked for later: never an older one, never one that was refused.
const assert = require('node:assert/strict')
const { Vec3 } = require('vec3')
const h = require('./harness')

const key = (p) => `${p.x},${p.y},${p.z}`

// Places a column of `layers` blocks on every block of a square around
// (cx, cz), bottom up, then digs them all, top down, leaving out the column
// the bot stands in. The floor is the flat world's grass at y = -61.
function plan (cx, cz, { radius = 3, layers = 5 } = {}) {
  const steps = []
  const columns = []
  for (let dx = -radius; dx <= radius; dx++) {
    for (let dz = -radius; dz <= radius; dz++) {
      if (dx !== 0 || dz !== 0) columns.push([cx + dx, cz + dz])
    }
  }
  for (let y = -60; y < -60 + layers; y++) {
    for (const [x, z] of columns) steps.push({ kind: 'place', pos: new Vec3(x, y, z) })
  }
  for (let y = -60 + layers - 1; y >= -60; y--) {
    for (const [x, z] of columns) steps.push({ kind: 'dig', pos: new Vec3(x, y, z) })
  }
  return steps
}

class Ledger {
  constructor (bot) {
    this.bot = bot
    this.confirmed = new Map() // key -> block name the server last sent
    this.askedSince = new Map() // key -> names asked for after that
    this.touched = new Map() // key -> Vec3
    this.confirmations = 0
    this.listeners = []
    // After freeze(): changes asked for that must never take effect.
    this.frozen = false
    this.late = new Map()
    this.lateConfirmed = []
    bot._client.on('block_change', (packet) => {
      const k = key(packet.location)
      if (!this.touched.has(k)) return
      const block = bot.registry.blocksByStateId[packet.type]
      const name = block ? block.name : `state ${packet.type}`
      // Confirmations already on their way when the owner stopped are fine;
      // one that only a late change explains is not.
      const before = this.askedSince.get(k) || new Set()
      if (this.late.has(k) && this.late.get(k).has(name) && !before.has(name) && this.confirmed.get(k) !== name) {
        this.lateConfirmed.push(`${k}: ${name}`)
      }
      this.confirmed.set(k, name)
      this.askedSince.set(k, new Set())
      this.confirmations++
      for (const l of this.listeners) l(this.confirmations)
    })
  }

  asked (pos, name) {
    const k = key(pos)
    this.touched.set(k, pos)
    if (this.frozen) {
      if (!this.late.has(k)) this.late.set(k, new Set())
      this.late.get(k).add(name)
      return
    }
    if (!this.askedSince.has(k)) this.askedSince.set(k, new Set())
    this.askedSince.get(k).add(name)
  }

  onConfirmation (fn) { this.listeners.push(fn) }

  // From now on, what is asked for goes to an owner that lost its region.
  freeze () { this.frozen = true }

  lateCount () { return [...this.late.values()].reduce((n, s) => n + s.size, 0) }

  // What may stand at each touched position after a crash.
  allowed () {
    const out = []
    for (const [k, pos] of this.touched) {
      const states = new Set(this.askedSince.get(k))
      states.add(this.confirmed.get(k) || 'air')
      out.push({ pos, states, confirmed: this.confirmed.get(k) })
    }
    return out
  }
}

// Sends the plan's steps `every` ms apart; stops early when `stop()` says so.
async function run (bot, steps, ledger, { every = 4, stop = () => false } = {}) {
  let sequence = 1
  for (const step of steps) {
    if (stop() || bot.isEnded) return
    if (step.kind === 'place') {
      ledger.asked(step.pos, 'stone')
      bot._client.write('block_place', {
        hand: 0,
        location: step.pos.offset(0, -1, 0),
        direction: 1,
        cursorX: 0.5,
        cursorY: 1,
        cursorZ: 0.5,
        insideBlock: false,
        sequence: sequence++
      })
    } else {
      ledger.asked(step.pos, 'air')
      bot._client.write('block_dig', { status: 0, location: step.pos, face: 1, sequence: sequence++ })
    }
    await h.sleep(every)
  }
}

// Every touched position holds what the ledger allows.
function check (bot, ledger, label) {
  const wrong = []
  let confirmedKept = 0
  for (const { pos, states, confirmed } of ledger.allowed()) {
    const block = bot.blockAt(pos)
    const name = block ? block.name : 'unloaded'
    if (!states.has(name)) wrong.push(`${pos}: ${name}, allowed ${[...states].join('/')}`)
    else if (confirmed && name === confirmed) confirmedKept++
  }
  assert.deepEqual(wrong, [], `${label}: ${wrong.length} positions lost a confirmed change or show one never confirmed`)
  assert.deepEqual(ledger.lateConfirmed, [], `${label}: changes sent to an owner that lost its region were confirmed`)
  return confirmedKept
}

// Moves `bot` (by `server`'s console) onto the floor at block (x, z) and
// waits for its chunks there.
async function teleport (server, bot, x, z) {
  const target = new Vec3(x + 0.5, -60, z + 0.5)
  // The player's saved record, applied just after login, may move it back.
  for (let attempt = 0; attempt < 3 && bot.entity.position.distanceTo(target) >= 0.01; attempt++) {
    server.send(`tp ${bot.username} ${x + 0.5} -60 ${z + 0.5}`)
    await h.waitFor(() => bot.entity.position.distanceTo(target) < 0.01, { timeout: 4000 }).catch(() => {})
  }
  await h.waitFor(() => bot.entity.position.distanceTo(target) < 0.01, { timeout: 2000, message: () => `${bot.username} to reach ${target} (is at ${bot.entity.position})` })
  await h.withTimeout(bot.waitForChunksToLoad(), 20000, `${bot.username}'s chunks at ${target}`)
}

// Creative mode and a stack of stone in hand: what `run` places.
async function creativeWithStone (server, bot) {
  server.send(`gamemode creative ${bot.username}`)
  await h.waitFor(() => bot.game.gameMode === 'creative', { timeout: 5000, message: 'creative mode' })
  const Item = require('prismarine-item')(bot.registry)
  await bot.creative.setInventorySlot(36, new Item(bot.registry.itemsByName.stone.id, 64))
  bot.setQuickBarSlot(0)
  await h.waitFor(() => bot.heldItem && bot.heldItem.name === 'stone', { timeout: 3000, message: 'holding stone' })
  await h.sleep(200)
}

// A fresh operator `name` joins `server` of cluster fixture `fx`, goes to
// `area` and checks the ledger there; returns how many confirmed states it saw.
async function checkThrough (fx, server, name, area, ledger, label) {
  const checker = await fx.join(server, name, { op: true })
  await teleport(server, checker, area.x, area.z)
  const kept = check(checker, ledger, label)
  checker.quit()
  fx.clients.delete(checker)
  return kept
}

module.exports = { plan, Ledger, run, check, checkThrough, teleport, creativeWithStone }
