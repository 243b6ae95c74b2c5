'use strict'
// Keep-alive: sent every ~10 s; a client that never answers is kicked with "Timed out"
// within ~30 s, while a client that answers (mineflayer does) stays connected.
const assert = require('node:assert/strict')
const h = require('./harness')

const ctx = h.setupServer({ name: 'keepalive', config: { server: { view_distance: 2 }, world: { region_size: 2 } } })

ctx.test('a client that never answers keep-alives is kicked with "Timed out"; an answering one stays', async ({ bot, rawClient }) => {
  const healthy = await bot('Healthy')
  const healthyKeepAlives = []
  healthy._client.on('keep_alive', () => healthyKeepAlives.push(Date.now()))

  const silentKeepAlives = []
  const silent = await rawClient('Silent', { keepAlive: false })
  const loginAt = Date.now()
  silent.on('keep_alive', () => silentKeepAlives.push(Date.now()))
  const sinceChat = healthy.chatLog.length

  try {
    await h.withTimeout(silent.whenEnded, 50000, 'Silent (never answers keep-alives) to be disconnected')
  } catch (err) {
    err.message += `; Silent received ${silentKeepAlives.length} keep-alives (at +${silentKeepAlives.map((t) => ((t - loginAt) / 1000).toFixed(1)).join(', +')} s), Healthy received ${healthyKeepAlives.length}\n${h.describeClient(silent)}`
    throw err
  }
  const after = (silent.endTime - loginAt) / 1000
  assert.ok(silentKeepAlives.length >= 1, `Silent received no keep-alive in ${after.toFixed(1)} s before being disconnected`)
  assert.ok(after >= 15, `Silent was disconnected after only ${after.toFixed(1)} s (should be ~30 s after an unanswered keep-alive)`)
  assert.ok(after <= 45, `Silent was disconnected after ${after.toFixed(1)} s (expected within ~40 s)`)
  assert.ok(silent.kicks.length >= 1, 'Silent was disconnected without a Disconnect packet (no reason)')
  assert.match(silent.kicks[0].text, /timed out/i, `Silent's disconnect reason: ${JSON.stringify(silent.kicks[0].reason)}`)
  const unanswered = silentKeepAlives[0]
  const sinceFirst = (silent.endTime - unanswered) / 1000
  assert.ok(sinceFirst >= 14 && sinceFirst <= 40, `kicked ${sinceFirst.toFixed(1)} s after the first unanswered keep-alive (expected ~30 s)`)

  // The healthy bot saw Silent leave and is still fine.
  await h.waitForMessage(healthy, 'Silent left the game', { since: sinceChat, timeout: 5000 })
  assert.ok(!healthy.isEnded, `Healthy was disconnected: ${healthy.endReason} ${JSON.stringify(healthy.kicks.map((k) => k.text))}`)
  assert.ok(healthyKeepAlives.length >= 2, `Healthy got ${healthyKeepAlives.length} keep-alives in ${after.toFixed(0)} s (expected one every ~10 s)`)
  for (let i = 1; i < healthyKeepAlives.length; i++) {
    const gap = (healthyKeepAlives[i] - healthyKeepAlives[i - 1]) / 1000
    assert.ok(gap >= 3 && gap <= 20, `gap between keep-alives to Healthy: ${gap.toFixed(1)} s`)
  }
  const got = h.waitForEvent(healthy, 'chat', { timeout: 5000, filter: (u, m) => u === 'Healthy' && m === 'still alive', message: 'Healthy chat echo' })
  healthy.chat('still alive')
  await got
}, { timeout: 75000 })
