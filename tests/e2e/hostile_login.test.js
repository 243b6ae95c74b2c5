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
ctx.test('500 pipelined wrong /login: at most five are checked, the sender is kicked for spamming, memory stays flat', async ({ bot, server }) => {
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
    return guesser.isEnded
  }, { timeout: 30000, message: () => `the burst's sender to be kicked (${guesser.chatLog.length - since} answers)` })
  const answers = guesser.chatLog.slice(since)
  const wrong = answers.filter((l) => /Wrong password/.test(l)).length
  process.stdout.write(`# burst: ${wrong} checked and wrong, ${answers.filter((l) => /Please wait/.test(l)).length} told to wait, kicked: ${guesser.kicks.map((k) => k.text)}, RSS ${before.toFixed(0)} -> peak ${peak.toFixed(0)} MB\n`)
  assert.match(guesser.kicks[0].text, /Kicked for spamming/)
  assert.ok(wrong <= 5, `${wrong} guesses were checked`)
  assert.ok(!answers.some((l) => /Successfully logged in/.test(l)), 'the right password inside the burst logged in')
  assert.ok(peak - before < 100, `RSS rose from ${before} to ${peak} MB`)
}, { timeout: 90000 })

// Finding 5: a chat flood is cut off after the burst vanilla allows, with
// vanilla's reason, and the others hear at most that burst.
ctx.test('2,000 chats in a burst kick their sender for spamming; a bystander hears at most ten', async ({ bot, server }) => {
  const bystander = await bot('Bystander')
  bystander.chat('/register bystander1 bystander1')
  await h.waitForMessage(bystander, 'Successfully registered')
  const flooder = await bot('Flooder')
  flooder.chat('/register flooder1 flooder1')
  await h.waitForMessage(flooder, 'Successfully registered')
  await h.sleep(1500) // the two commands above drained from the score
  let heard = 0
  bystander.on('chat', (username) => { if (username === 'Flooder') heard++ })
  for (let i = 0; i < 2000; i++) {
    flooder._client.write('chat_message', { message: `flood ${i}`, timestamp: BigInt(Date.now()), salt: 0n, offset: 0, acknowledged: Buffer.alloc(3) })
  }
  const kick = await h.refusal(flooder)
  assert.match(kick.text, /Kicked for spamming/)
  await h.sleep(500)
  assert.ok(heard <= 10, `the bystander heard ${heard} of the flood`)
  const back = h.waitForEvent(bystander, 'chat', { timeout: 5000, filter: (u, m) => u === 'Bystander' && m === 'quiet again' })
  bystander.chat('quiet again')
  await back
  const metrics = await (await fetch(`${await h.adminUrl(server)}/metrics`)).text()
  assert.match(metrics, /tessera_spam_kicks_total [1-9]/)
})
