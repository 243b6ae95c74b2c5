'use strict'
// Hostile input (issue 16, findings 5 and 7): a client flooding packets of
// any kind is kicked at Paper's rate, and a creative item whose data is over
// the bound is refused before it is stored or resent; everyone else plays on.
const assert = require('node:assert/strict')
const h = require('./harness')

const ctx = h.setupServer({ name: 'hostile-packets' })

async function metric (server, name) {
  const text = await (await fetch(`${await h.adminUrl(server)}/metrics`)).text()
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)[1])
}

async function setGameMode (server, bot, mode) {
  server.send(`gamemode ${mode} ${bot.username}`)
  await h.waitFor(() => bot.game.gameMode === mode, { timeout: 5000, message: () => `${bot.label} game mode to become ${mode}` })
}

function byteArrayItem (bot, bytes) {
  return {
    present: true,
    itemId: bot.registry.itemsByName.stone.id,
    itemCount: 1,
    nbtData: { type: 'compound', name: '', value: { filler: { type: 'byteArray', value: new Array(bytes).fill(7) } } }
  }
}

async function bystanderStillPlays (bystander, word) {
  const heard = h.waitForMessage(bystander, new RegExp(word), { timeout: 10000 })
  bystander.chat(word)
  await heard
  assert.ok(!bystander.isEnded, 'the bystander was disconnected')
}

ctx.test('10,000 packets in a burst kick their sender for flooding; a bystander keeps playing', async ({ bot, server }) => {
  const bystander = await bot('Bystander')
  const flooder = await bot('Flooder')
  for (let i = 0; i < 10000; i++) flooder._client.write('arm_animation', { hand: 0 })
  await h.withTimeout(flooder.whenEnded, 15000, 'the flooder to be kicked')
  assert.match(flooder.kicks.map((k) => k.text).join(' | '), /You are sending too many packets!/)
  await bystanderStillPlays(bystander, 'still-here')
  assert.ok(await metric(server, 'tessera_packet_flood_kicks_total') >= 1)
  assert.match(server.output, /kicked for sending more than 500 packets a second/)
}, { timeout: 60000 })

ctx.test('a creative item of 1.9 MiB is refused with a reason; one of 16 KiB is stored', async ({ bot, server }) => {
  const bystander = await bot('Watcher')
  const creative = await bot('Hoarder')
  await setGameMode(server, creative, 'creative')

  creative._client.write('set_creative_slot', { slot: 36, item: byteArrayItem(creative, 16 * 1024) })
  await h.waitFor(() => creative.inventory.slots[36] && creative.inventory.slots[36].name === 'stone', { timeout: 5000, message: 'the 16 KiB item to be confirmed' })
  assert.ok(!creative.isEnded, 'a 16 KiB item kicked its sender')

  creative._client.write('set_creative_slot', { slot: 37, item: byteArrayItem(creative, 1900 * 1024) })
  await h.withTimeout(creative.whenEnded, 15000, 'the hoarder to be kicked')
  assert.match(creative.kicks.map((k) => k.text).join(' | '), /Item data too large \(\d+ bytes, at most 32768\)/)
  await bystanderStillPlays(bystander, 'watching')
  assert.ok(await metric(server, 'tessera_oversized_item_kicks_total') >= 1)
}, { timeout: 60000 })
