'use strict'
// Where a server's bytes go: one observer joins, stands at spawn for a
// while and counts what it receives by packet kind (number, and bytes of
// the uncompressed packet). Run it beside a swarm to see a crowd as one of
// its players does, against Tessera or a peer server:
//
//   node tests/measure/packet_mix.js --port 25565 --seconds 20 [--warmup 5]
//
// Prints one JSON object: per packet name, count and bytes per second, and
// the mean entity-id length in bytes of the movement packets.
const mc = require('minecraft-protocol')

function option (name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : fallback
}

const port = Number(option('port', '25565'))
const seconds = Number(option('seconds', '20'))
const warmup = Number(option('warmup', '5'))
const username = option('name', 'Observer')

function varintLength (value) {
  let n = 1
  let v = value >>> 0
  while (v >= 0x80) {
    v >>>= 7
    n++
  }
  return n
}

const client = mc.createClient({ host: '127.0.0.1', port, username, version: '1.20.1', auth: 'offline' })
const kinds = new Map()
const ids = { count: 0, bytes: 0 }
let counting = false
client.on('packet', (data, meta, buffer) => {
  if (!counting || meta.state !== 'play') return
  const kind = kinds.get(meta.name) || { count: 0, bytes: 0 }
  kind.count++
  kind.bytes += buffer.length
  kinds.set(meta.name, kind)
  if (typeof data.entityId === 'number' && /entity|rel_|look|head/.test(meta.name)) {
    ids.count++
    ids.bytes += varintLength(data.entityId)
  }
})
client.on('error', (e) => { console.error(`packet_mix: ${e.message}`); process.exit(1) })
client.once('position', () => {
  client.write('teleport_confirm', { teleportId: 0 })
  setTimeout(() => { counting = true }, warmup * 1000)
  setTimeout(() => {
    const perSecond = {}
    const sorted = [...kinds.entries()].sort((a, b) => b[1].bytes - a[1].bytes)
    for (const [name, k] of sorted) {
      perSecond[name] = { count: +(k.count / seconds).toFixed(1), bytes: Math.round(k.bytes / seconds) }
    }
    const total = sorted.reduce((sum, [, k]) => sum + k.bytes, 0)
    console.log(JSON.stringify({
      port,
      seconds,
      bytes_per_second_uncompressed: Math.round(total / seconds),
      entity_id_bytes_mean: ids.count ? +(ids.bytes / ids.count).toFixed(2) : null,
      kinds: perSecond
    }))
    client.end()
    process.exit(0)
  }, (warmup + seconds) * 1000)
})
