'use strict'
// Hostile input at the login gate (issue 16, findings 1 and 2), on a server
// of its own: the guesses of other tests must not have locked the address.
const assert = require('node:assert/strict')
const h = require('./harness')

const ctx = h.setupServer({ name: 'hostile-login', config: { auth: { require_login: true } } })

// Finding 2 of the hostile-input issue: behind the login gate a newcomer
// proves nothing, so it may not kick a player who is playing.
ctx.test('a newcomer with the name of a player who is playing is refused; the player plays on', async ({ bot, createBot }) => {
  const player = await bot('Occupant')
  await h.waitForMessage(player, /Please register/)
  player.chat('/register occupied1 occupied1')
  await h.waitForMessage(player, 'Successfully registered')
  const impostor = createBot('Occupant')
  const kick = await h.refusal(impostor)
  assert.match(kick.text, /Occupant is already playing on this server/)
  await h.sleep(500)
  assert.ok(!player.isEnded, `the player was disconnected: ${JSON.stringify(player.kicks.map((k) => k.text))}`)
  const heard = h.waitForEvent(player, 'chat', { timeout: 5000, filter: (u, m) => u === 'Occupant' && m === 'still here' })
  player.chat('still here')
  await heard
})

// Finding 1: a burst of guesses on one connection is checked one at a
// time and counted before each check, so it costs a few hashes, not one
// each, and the right password hidden in it is no way around the limit.
ctx.test('500 pipelined wrong /login are checked at most five times and memory stays flat', async ({ bot, server }) => {
  const owner = await bot('Burst')
  await h.waitForMessage(owner, /Please register/)
  owner.chat('/register burstpass burstpass')
  await h.waitForMessage(owner, 'Successfully registered')
  owner.quit()
  await owner.whenEnded
  const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(require('node:fs').readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))[1]) / 1024
  const before = rss()
  const guesser = await bot('Burst')
  await h.waitForMessage(guesser, /Please log in/)
  const since = guesser.chatLog.length
  for (let i = 0; i < 500; i++) {
    const command = i === 250 ? 'login burstpass' : `login wrong${i}`
    guesser._client.write('chat_command', { command, timestamp: BigInt(Date.now()), salt: 0n, argumentSignatures: [], messageCount: 0, acknowledged: Buffer.alloc(3) })
  }
  let peak = before
  await h.waitFor(() => {
    peak = Math.max(peak, rss())
    return guesser.chatLog.slice(since).filter((l) => /Wrong password|Too many failed|Please wait|Successfully/.test(l)).length >= 500
  }, { timeout: 60000, message: () => `answers to the burst (${guesser.chatLog.length - since} lines)` })
  const answers = guesser.chatLog.slice(since)
  const wrong = answers.filter((l) => /Wrong password/.test(l)).length
  process.stdout.write(`# burst: ${wrong} checked and wrong, ${answers.filter((l) => /Please wait/.test(l)).length} told to wait, RSS ${before.toFixed(0)} -> peak ${peak.toFixed(0)} MB\n`)
  assert.ok(wrong <= 5, `${wrong} guesses were checked`)
  assert.ok(!answers.some((l) => /Successfully logged in/.test(l)), 'the right password inside the burst logged in')
  assert.ok(peak - before < 100, `RSS rose from ${before} to ${peak} MB`)
}, { timeout: 90000 })
