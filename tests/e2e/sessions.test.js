'use strict'
// Duplicate logins and max_players.
const assert = require('node:assert/strict')
const { describe } = require('node:test')
const h = require('./harness')

describe('duplicate login', () => {
  const ctx = h.setupServer({ name: 'duplicate', config: { server: { view_distance: 2 }, world: { region_size: 2 } } })

  ctx.test('a second login with the same name kicks the older session ("logged in from another location")', async ({ bot, createBot }) => {
    const observer = await bot('Observer')
    const first = await bot('Twin', { allowNetworkErrors: true })
    const firstUuid = first.player.uuid
    await h.waitForSeenPlayer(observer, 'Twin')
    const events = h.recordPlayerEvents(observer, 'Twin')
    const second = await bot('Twin')
    await h.withTimeout(first.whenEnded, 10000, 'the older Twin session to be disconnected')
    assert.ok(first.kicks.length >= 1, 'the older Twin was disconnected without a reason')
    assert.match(first.kicks[0].text, /logged in from another location/i, `older session's kick reason: ${JSON.stringify(first.kicks[0].reason)}`)
    assert.ok(!second.isEnded, 'the newer Twin session was disconnected too')
    assert.equal(second.player.uuid, firstUuid, 'offline uuid of the same name must be the same')
    // The newer session is fully functional.
    const got = h.waitForEvent(observer, 'chat', { timeout: 5000, filter: (u, m) => u === 'Twin' && m === 'second session', message: 'chat from the new Twin session' })
    second.chat('second session')
    await got
    // Observer has exactly one Twin: in the tab list and as an entity with the new session's id.
    await h.waitFor(() => {
      const e = h.seenPlayer(observer, 'Twin')
      return e && e.id === second.entity.id
    }, { timeout: 5000, message: () => `Observer to see the new Twin entity (id ${second.entity.id}; sees ${h.seenPlayer(observer, 'Twin')?.id}; Twin in tab list: ${!!observer.players.Twin}; old session's entity id was ${first.entity.id}; Observer saw: ${events.join(' | ')})` })
    const twins = Object.values(observer.entities).filter((e) => e.type === 'player' && e.username === 'Twin' && e.isValid !== false)
    assert.equal(twins.length, 1, `Observer has ${twins.length} Twin entities: ${twins.map((e) => e.id)}`)
    assert.ok(observer.players.Twin, 'Twin missing from the Observer\'s tab list')
    // The server still counts one Twin: a third bot sees exactly two other players.
    const third = await bot('Third')
    await h.sleep(1000)
    const others = Object.keys(third.players).filter((n) => n !== 'Third').sort()
    assert.deepEqual(others, ['Observer', 'Twin'], 'tab list of a bot joining afterwards')
  })

  ctx.test('the older session leaving afterwards does not remove the newer one', async ({ bot }) => {
    const observer = await bot('Watcher2')
    const first = await bot('Dupe', { allowNetworkErrors: true })
    await h.waitForSeenPlayer(observer, 'Dupe')
    const events = h.recordPlayerEvents(observer, 'Dupe')
    const second = await bot('Dupe')
    await h.withTimeout(first.whenEnded, 10000, 'older Dupe to be kicked')
    await h.sleep(1500)
    assert.ok(!second.isEnded, 'the newer Dupe was disconnected')
    assert.ok(observer.players.Dupe, `Dupe removed from the Observer's tab list when the older session ended; Observer saw: ${events.join(' | ')}`)
    const e = h.seenPlayer(observer, 'Dupe')
    assert.ok(e && e.id === second.entity.id, `Observer's entity for Dupe: ${e && e.id}, the new session's id is ${second.entity.id}; Observer saw: ${events.join(' | ')}`)
    const got = h.waitForEvent(observer, 'chat', { timeout: 5000, filter: (u, m) => u === 'Dupe' && m === 'still me', message: 'chat from the newer Dupe' })
    second.chat('still me')
    await got
  })
})

describe('max_players = 1', () => {
  const ctx = h.setupServer({ name: 'maxplayers', config: { server: { view_distance: 2, max_players: 1 }, world: { region_size: 2 } } })

  ctx.test('a second player is refused with a message containing "full"; the slot frees when the first leaves', async ({ bot, createBot }) => {
    const first = await bot('Solo')
    const refused = createBot('Extra', { allowNetworkErrors: true })
    await h.withTimeout(refused.whenEnded, 10000, 'the second player to be refused')
    assert.ok(refused.kicks.length >= 1, `the second player was disconnected without a reason (end: ${refused.endReason})`)
    assert.match(refused.kicks[0].text, /full/i, `refusal reason: ${JSON.stringify(refused.kicks[0].reason)}`)
    assert.ok(!first.isEnded, 'the first player was disconnected')
    // The refused player never appeared for the first one.
    assert.equal(first.players.Extra, undefined, 'the refused player appeared in the tab list')
    const got = h.waitForEvent(first, 'chat', { timeout: 5000, filter: (u, m) => u === 'Solo' && m === 'alone', message: 'Solo chat' })
    first.chat('alone')
    await got
    // after the first leaves, a newcomer gets in
    first.quit()
    await h.withTimeout(first.whenEnded, 5000, 'Solo to quit')
    const next = await h.waitFor(async () => {
      const b = createBot('Next', { allowNetworkErrors: true })
      try {
        await h.withTimeout(b.spawned, 10000, 'Next to spawn')
        return b
      } catch (err) {
        try { b.quit() } catch (_) {}
        return null
      }
    }, { timeout: 15000, interval: 500, message: 'a newcomer to get the freed slot' })
    assert.ok(!next.isEnded)
  })
})
