'use strict'
// The console on a real terminal (tmux): line editing, history, completion
// of command and player names, and log lines that arrive while a line is
// typed print above it without breaking it. Ctrl-C stops the server.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { test } = require('node:test')
const h = require('./harness')

const SESSION = `tessera-console-${process.pid}`
const tmux = (...args) => execFileSync('tmux', args, { encoding: 'utf8' })
const screen = () => tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', SESSION)
const keys = (...k) => tmux('send-keys', '-t', SESSION, ...k)
// The pane stays after the server exits, so its last words can be read.
const exists = () => { try { tmux('has-session', '-t', SESSION); return true } catch (_) { return false } }
const alive = () => exists() && tmux('display-message', '-p', '-t', SESSION, '#{pane_dead}').trim() === '0'

async function shows (pattern, message, timeout = 10000) {
  return h.waitFor(() => pattern.test(screen()), { timeout, interval: 100, message: () => `${message}; the screen:\n${screen()}` })
}

test('the terminal console edits, recalls, completes, keeps the typed line under log output, and stops on Ctrl-C', { timeout: 90000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-console-tty-'))
  const port = await h.freePort()
  const config = path.join(dir, 'config.toml')
  fs.writeFileSync(config, h.renderToml({
    server: { bind: `127.0.0.1:${port}`, view_distance: 2 },
    world: { generator: 'flat', data_dir: path.join(dir, 'data'), region_size: 2 },
    admin: { bind: '127.0.0.1:0' },
    auth: { require_login: false }
  }))
  // The server takes every TESSERA_* variable for a config key: not the test's.
  tmux('new-session', '-d', '-s', SESSION, '-x', '220', '-y', '60', `env -u TESSERA_BIN ${h.BIN} --config ${config}`)
  tmux('set-option', '-t', SESSION, 'remain-on-exit', 'on')
  const bots = []
  try {
    await shows(/Done \(/, 'the server to start', 30000)
    await shows(/^> $/m, 'the prompt')

    keys('lis', 'Tab')
    await shows(/^> list\s*$/m, '"lis" + Tab to complete to "list"')
    keys('Enter')
    await shows(/There are 0 of a max of \d+ players online/, 'list to answer')

    keys('Up')
    await shows(/^> list\s*$/m, 'Up to recall "list"')
    keys('C-u')

    keys('sa hi', 'Home', 'Right', 'Right', 'y', 'Enter')
    await shows(/\[Server\] hi/, '"sa hi" edited into "say hi" to run')

    const bot = await h.joinBot({ host: '127.0.0.1', port }, 'Typist')
    bots.push(bot)
    keys('kick Ty')
    await h.sleep(300)
    bot.chat('log line while typing')
    await shows(/<Typist> log line while typing[\s\S]*^> kick Ty\s*$/m, 'the chat log line above the line being typed, which survives')
    keys('Tab')
    await shows(/^> kick Typist\s*$/m, 'Tab to complete the player name')
    keys('Enter')
    await h.withTimeout(bot.whenEnded, 10000, 'Typist to be kicked')

    keys('C-c')
    await h.waitFor(() => !alive(), { timeout: 15000, message: 'the server to stop on Ctrl-C' })
  } finally {
    for (const bot of bots) { try { bot.quit() } catch (_) {} }
    if (exists()) tmux('kill-session', '-t', SESSION)
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
