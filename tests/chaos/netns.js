'use strict'
// Hosts for the chaos test: one network namespace per node, each with a
// veth into a bridge on the host side, so every node has its own address
// (10.77.0.1N) and its traffic can be cut or thinned with iptables inside
// its namespace without touching anything else on the machine.
const { execFileSync } = require('node:child_process')

const BRIDGE = 'tchaos0'
const HOST_IP = '10.77.0.1'
const PREFIX = 'tchaos'

const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString()
const quiet = (cmd, args) => { try { run(cmd, args) } catch (_) {} }
const inNs = (ns, cmd, args) => run('ip', ['netns', 'exec', ns, cmd, ...args])

const nsOf = (id) => `${PREFIX}${id}`
const ipOf = (id) => `10.77.0.1${id}`

function down (ids) {
  for (const id of ids) {
    quiet('ip', ['netns', 'del', nsOf(id)])
    quiet('ip', ['link', 'del', `vc${id}`])
  }
  quiet('ip', ['link', 'del', BRIDGE])
}

function up (ids) {
  down(ids)
  run('ip', ['link', 'add', BRIDGE, 'type', 'bridge'])
  run('ip', ['addr', 'add', `${HOST_IP}/24`, 'dev', BRIDGE])
  run('ip', ['link', 'set', BRIDGE, 'up'])
  for (const id of ids) {
    const ns = nsOf(id)
    run('ip', ['netns', 'add', ns])
    run('ip', ['link', 'add', `vc${id}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
    run('ip', ['link', 'set', `vc${id}`, 'master', BRIDGE, 'up'])
    inNs(ns, 'ip', ['addr', 'add', `${ipOf(id)}/24`, 'dev', 'eth0'])
    inNs(ns, 'ip', ['link', 'set', 'eth0', 'up'])
    inNs(ns, 'ip', ['link', 'set', 'lo', 'up'])
  }
}

// Rules are added to a chain of our own in each namespace, so healing is
// flushing it.
function ensureChain (id) {
  const ns = nsOf(id)
  try { inNs(ns, 'iptables', ['-N', 'CHAOS']) } catch (_) { return }
  inNs(ns, 'iptables', ['-I', 'INPUT', '-j', 'CHAOS'])
  inNs(ns, 'iptables', ['-I', 'OUTPUT', '-j', 'CHAOS'])
}

// Cuts `id` off from the other nodes (not from the players' host).
function partition (id, others) {
  ensureChain(id)
  for (const other of others) {
    inNs(nsOf(id), 'iptables', ['-A', 'CHAOS', '-s', ipOf(other), '-j', 'DROP'])
    inNs(nsOf(id), 'iptables', ['-A', 'CHAOS', '-d', ipOf(other), '-j', 'DROP'])
  }
}

// Drops `fraction` of the packets between `id` and the other nodes at
// random: TCP retransmits, so the link also becomes slow and bursty.
function lossy (id, others, fraction) {
  ensureChain(id)
  for (const other of others) {
    for (const dir of ['-s', '-d']) {
      inNs(nsOf(id), 'iptables', ['-A', 'CHAOS', dir, ipOf(other), '-m', 'statistic', '--mode', 'random', '--probability', String(fraction), '-j', 'DROP'])
    }
  }
}

function heal (id) {
  quiet('ip', ['netns', 'exec', nsOf(id), 'iptables', '-F', 'CHAOS'])
}

// Why the chaos test cannot run here, or null.
function unavailable () {
  try {
    run('ip', ['netns', 'list'])
    run('iptables', ['-L', '-n'])
    return null
  } catch (err) {
    return `network namespaces and iptables are needed (root, iproute2, iptables): ${err.message.split('\n')[0]}`
  }
}

module.exports = { up, down, partition, lossy, heal, nsOf, ipOf, unavailable, HOST_IP }
