'use strict'
// A linearizability checker for one read/write register (Wing and Gong's
// search, with Lowe's memoisation of (linearized set, value)). An operation
// is { kind: 'write' | 'read', value, start, end }; `end` is Infinity for an
// operation whose outcome is unknown (a write that timed out may have taken
// effect at any time after it started, or never). Reads of unknown outcome
// say nothing and are left out by the caller. `value` null is "absent".

function check (ops, initial = null) {
  const history = ops.map((op, index) => ({ ...op, index })).sort((a, b) => a.start - b.start)
  const n = history.length
  const required = history.filter((op) => op.end !== Infinity).length
  const seen = new Set()
  // Iterative DFS: each frame is (linearized bitmask, value, how many
  // required ops are in it).
  const stack = [{ done: 0n, value: initial, count: 0 }]
  while (stack.length > 0) {
    const { done, value, count } = stack.pop()
    if (count === required) return { ok: true }
    const key = `${done.toString(36)}|${value}`
    if (seen.has(key)) continue
    seen.add(key)
    // An operation can go next only if it started before every pending
    // operation ended.
    let earliestEnd = Infinity
    for (let i = 0; i < n; i++) {
      if (!(done & (1n << BigInt(i))) && history[i].end < earliestEnd) earliestEnd = history[i].end
    }
    for (let i = 0; i < n; i++) {
      const bit = 1n << BigInt(i)
      const op = history[i]
      if (done & bit || op.start > earliestEnd) continue
      if (op.kind === 'read' && op.value !== value) continue
      const next = op.kind === 'write' ? op.value : value
      stack.push({ done: done | bit, value: next, count: count + (op.end === Infinity ? 0 : 1) })
    }
  }
  return { ok: false }
}

// The checker must tell the two apart, or its verdict on the chaos run means nothing.
function selfTest () {
  const good = [
    { kind: 'write', value: 'a', start: 0, end: 10 },
    { kind: 'read', value: 'a', start: 5, end: 12 },
    { kind: 'write', value: 'b', start: 11, end: Infinity },
    { kind: 'read', value: 'b', start: 20, end: 25 },
    { kind: 'read', value: 'b', start: 30, end: 35 }
  ]
  const stale = [
    { kind: 'write', value: 'a', start: 0, end: 10 },
    { kind: 'write', value: 'b', start: 11, end: 15 },
    { kind: 'read', value: 'b', start: 16, end: 18 },
    { kind: 'read', value: 'a', start: 19, end: 21 }
  ]
  const lost = [
    { kind: 'write', value: 'a', start: 0, end: 10 },
    { kind: 'read', value: null, start: 11, end: 12 }
  ]
  if (!check(good).ok) throw new Error('the checker refused a linearizable history')
  if (check(stale).ok) throw new Error('the checker accepted a stale read after a newer one')
  if (check(lost).ok) throw new Error('the checker accepted a lost acknowledged write')
}

module.exports = { check, selfTest }
