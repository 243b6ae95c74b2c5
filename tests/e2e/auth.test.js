'use strict'
// Offline-mode accounts: a new player is frozen until it registers, a
// returning one until it logs in; wrong passwords are refused and rate
// limited; console bans and the whitelist stop players and hold across
// reconnects. Passwords never reach the log.
const assert = require('node:assert/strict')
const { Vec3 } = require('vec3')
const h = require('./harness')

const ctx = h.setupServer({ name: 'auth', config: { auth: { require_login: true } } })

async function walkABit (bot, ms) {
  await bot.lookAt(bot.entity.position.offset(10, 1.62, 0), true)
  bot.setControlState('forward', true)
  await h.sleep(ms)
  bot.clearControlStates()
  await h.sleep(500)
}

ctx.test('a new player is frozen until it registers, then plays', async ({ bot, server }) => {
  const newbie = await bot('Newbie')
  await h.waitForMessage(newbie, /Please register: \/register/)
  const start = newbie.entity.position.clone()
  await walkABit(newbie, 1000)
  assert.ok(newbie.entity.position.distanceTo(start) < 0.5, `Newbie walked to ${newbie.entity.position} before registering`)
  const since = newbie.chatLog.length
  newbie.chat('can anyone hear me')
  await h.waitForMessage(newbie, 'Please log in first', { since })
  newbie.chat('/register hunter22 hunter23')
  await h.waitForMessage(newbie, 'The two passwords differ')
  newbie.chat('/register hunter22 hunter22')
  await h.waitForMessage(newbie, 'Successfully registered')
  await walkABit(newbie, 1000)
  assert.ok(newbie.entity.position.distanceTo(start) > 2, `Newbie could not walk after registering (at ${newbie.entity.position})`)
  assert.ok(!server.output.includes('hunter22'), 'a password appeared in the server log')
})

ctx.test('a returning player logs in; wrong passwords are refused and then rate limited', async ({ bot, server }) => {
  const first = await bot('Regular')
  await h.waitForMessage(first, /Please register/)
  first.chat('/register opensesame opensesame')
  await h.waitForMessage(first, 'Successfully registered')
  first.quit()
  await first.whenEnded
  const again = await bot('Regular')
  await h.waitForMessage(again, /Please log in: \/login/)
  again.chat('/login wrongpass')
  await h.waitForMessage(again, 'Wrong password')
  again.chat('/login opensesame')
  await h.waitForMessage(again, 'Successfully logged in')
  const heard = h.waitForEvent(again, 'chat', { timeout: 5000, filter: (u, m) => u === 'Regular' && m === 'back again' })
  again.chat('back again')
  await heard

  const guesser = await bot('Guesser')
  guesser.chat('/register correcthorse correcthorse')
  await h.waitForMessage(guesser, 'Successfully registered')
  guesser.quit()
  await guesser.whenEnded
  const thief = await bot('Guesser')
  await h.waitForMessage(thief, /Please log in/)
  // Five failures (for the name or from the address) lock the door.
  let locked = false
  for (let i = 0; i < 6 && !locked; i++) {
    const since = thief.chatLog.length
    thief.chat(`/login guess${i}`)
    const answer = await h.waitForMessage(thief, /Wrong password|Too many failed attempts/, { since })
    locked = /Too many/.test(answer)
  }
  assert.ok(locked, 'six wrong passwords in a row were all answered "Wrong password"')
  const since = thief.chatLog.length
  thief.chat('/login correcthorse')
  await h.waitForMessage(thief, 'Too many failed attempts', { since })
  assert.ok(!server.output.includes('correcthorse') && !server.output.includes('opensesame'), 'a password appeared in the server log')
})

ctx.test('a console ban kicks the player and stops its rejoin until pardoned', async ({ bot, createBot, server }) => {
  const victim = await bot('Victim')
  await server.command('ban Victim griefing the spawn', /Banned Victim/)
  await h.withTimeout(victim.whenEnded, 10000, 'Victim to be kicked by the ban')
  assert.ok(victim.kicks.some((k) => /banned/i.test(k.text) && /griefing the spawn/.test(k.text)), `kick reason: ${JSON.stringify(victim.kicks)}`)
  const rejoin = createBot('Victim', { allowNetworkErrors: true })
  await h.withTimeout(rejoin.whenEnded, 15000, 'the banned rejoin to be refused')
  assert.ok(rejoin.kicks.some((k) => /banned/i.test(k.text)), `rejoin kick: ${JSON.stringify(rejoin.kicks)}`)
  await server.command('pardon Victim', /Unbanned Victim/)
  const back = await bot('Victim')
  assert.ok(!back.isEnded)
})

ctx.test('with the whitelist on, only listed players join', async ({ bot, createBot, server }) => {
  await server.command('whitelist add Friend', /Added Friend to the whitelist/)
  await server.command('whitelist on', /Whitelist is now turned on/)
  try {
    const stranger = createBot('Stranger', { allowNetworkErrors: true })
    await h.withTimeout(stranger.whenEnded, 15000, 'Stranger to be refused')
    assert.ok(stranger.kicks.some((k) => /not white-listed/.test(k.text)), `Stranger kick: ${JSON.stringify(stranger.kicks)}`)
    const friend = await bot('Friend')
    assert.ok(!friend.isEnded)
    await server.command('whitelist list', /Whitelist is on; 1 whitelisted players: Friend/)
  } finally {
    await server.command('whitelist off', /Whitelist is now turned off/)
  }
})

ctx.test('the console shows a user without its password hash', async ({ server }) => {
  const out = await server.command('users Newbie', /Newbie: uuid [0-9a-f-]{36}, registered at \d+/)
  assert.ok(!/argon2/.test(out[0]))
  void Vec3
})

