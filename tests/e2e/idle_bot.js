'use strict'
// A mineflayer bot that joins and idles: `node tests/e2e/idle_bot.js <port> <name> [host]`.
// Prints "SPAWNED <x> <y> <z>" once it has spawned; exits when stdin closes, on SIGTERM,
// or when it is disconnected (exit code 2), and after 120 s at the latest.
const mineflayer = require('mineflayer')

const [port, name, host = '127.0.0.1'] = process.argv.slice(2)
if (!port || !name) {
  console.error('usage: idle_bot.js <port> <name> [host]')
  process.exit(64)
}
const bot = mineflayer.createBot({ host, port: Number(port), username: name, version: '1.20.1', auth: 'offline', logErrors: false })
let spawned = false
bot.once('spawn', () => {
  spawned = true
  const p = bot.entity.position
  process.stdout.write(`SPAWNED ${p.x} ${p.y} ${p.z}\n`)
})
bot.on('kicked', (reason) => process.stdout.write(`KICKED ${typeof reason === 'string' ? reason : JSON.stringify(reason)}\n`))
bot.on('error', (err) => process.stdout.write(`ERROR ${err && err.message}\n`))
bot.on('end', (reason) => {
  process.stdout.write(`END ${reason}\n`)
  process.exit(spawned ? 0 : 2)
})
const quit = () => { try { bot.quit() } catch (_) {} setTimeout(() => process.exit(0), 2000).unref() }
process.stdin.on('end', quit)
process.stdin.on('close', quit)
process.stdin.resume()
process.on('SIGTERM', quit)
setTimeout(quit, 120000).unref()
