#!/usr/bin/env bash
# The one test command: installs what the tests need, builds the release binary once,
# runs the Rust unit tests, the end-to-end tests (mineflayer bots against the real
# binary), the chaos run, the status tests (server list ping, RCON and Query with mcstatus
# and mcrcon, /metrics with prometheus-client) and a bounded run of the fuzz targets.
# Exits non-zero if any part fails.
#
#   tests/run.sh              # everything
#   TESSERA_SKIP_BUILD=1      # use an existing target/release/tessera (or TESSERA_BIN)
#   TESSERA_SKIP_UNIT=1       # skip cargo test (local iterations only)
#   TESSERA_E2E_FILES="tests/e2e/world.test.js ..."   # a subset of the e2e files
#   TESSERA_SKIP_CHAOS=1      # skip the chaos run (it needs root, network namespaces, iptables)
#   CHAOS_SECONDS=1800        # a longer chaos run (default about 110 s of faults)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

declare -a SUMMARY=()
FAILED=0
START_ALL=$(date +%s)

part() { # part <name> <command...>
  local name="$1"; shift
  local t0=$(date +%s)
  echo
  echo "=============================================================="
  echo "== $name"
  echo "=============================================================="
  "$@"
  local rc=$?
  local dt=$(( $(date +%s) - t0 ))
  if [ $rc -eq 0 ]; then
    SUMMARY+=("PASS  $name (${dt}s)")
  else
    SUMMARY+=("FAIL  $name (exit $rc, ${dt}s)")
    FAILED=1
  fi
  return $rc
}

skip() { SUMMARY+=("SKIP  $1 ($2)"); FAILED=1; }

install_node_deps() {
  command -v node >/dev/null || { echo "node is not installed"; return 1; }
  # The terminal console's test drives it through tmux.
  command -v tmux >/dev/null || { echo "installing tmux"; apt-get update -qq && apt-get install -y -qq tmux; } || return 1
  # The map's test opens the page in Debian's Chromium (driven by playwright-core, which downloads no browser).
  [ -x /usr/bin/chromium ] || { echo "installing chromium"; apt-get update -qq && apt-get install -y -qq chromium; } || return 1
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
}

install_python_deps() {
  if [ ! -x tests/.venv/bin/python ]; then
    if ! python3 -m venv tests/.venv; then
      echo "python3 -m venv failed; installing python3-venv"
      rm -rf tests/.venv
      (apt-get update -qq && apt-get install -y -qq python3-venv) || return 1
      python3 -m venv tests/.venv || return 1
    fi
  fi
  tests/.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
}

# The server reads every TESSERA_* variable as a config override (and rejects unknown ones), so
# the variables of this script (TESSERA_BIN, TESSERA_SKIP_*, ...) are kept away from cargo
# and from the tests, which get TESSERA_BIN alone (and strip it before starting a server).
without_tessera_env() {
  local unset_args=()
  local name
  for name in $(compgen -e); do
    case "$name" in TESSERA_*) unset_args+=(-u "$name") ;; esac
  done
  env "${unset_args[@]}" "$@"
}

build_release() { without_tessera_env cargo build --release --locked; }
unit_tests() { without_tessera_env cargo test --workspace --locked; }

e2e_tests() {
  local files
  if [ -n "${TESSERA_E2E_FILES:-}" ]; then
    files=(${TESSERA_E2E_FILES})
  else
    files=(tests/e2e/*.test.js)
  fi
  without_tessera_env TESSERA_BIN="$BIN" node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
}

swarm_smoke() { without_tessera_env bench/smoke.sh; }

install_chaos_deps() {
  command -v iptables >/dev/null && return 0
  echo "iptables is not installed; installing it"
  apt-get update -qq && apt-get install -y -qq iptables
}

chaos_test() {
  install_chaos_deps || return 1
  without_tessera_env TESSERA_BIN="$BIN" node --test --test-reporter=spec tests/chaos/chaos.test.js
}

# Every fuzz target for a bounded time from its committed corpus (fuzz/README.md);
# a crashing input is written to fuzz/crashes/ and fails the part. The debug build (made
# by the unit tests already) is slower per input but checks overflows and debug asserts.
fuzz_smoke() { without_tessera_env cargo run -p tessera-fuzz --locked -- all --seconds 10; }

status_tests() { without_tessera_env TESSERA_BIN="$BIN" tests/.venv/bin/python -m pytest tests/status -v -rA --durations=0; }

NODE_OK=1; PY_OK=1; BIN_OK=1
part "install node test dependencies (npm ci)" install_node_deps || NODE_OK=0
part "install python test dependencies (venv + pip)" install_python_deps || PY_OK=0
if [ -z "${TESSERA_SKIP_BUILD:-}" ]; then
  part "cargo build --release --locked" build_release || BIN_OK=0
fi
BIN="${TESSERA_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/tessera}"
[ -x "$BIN" ] || { echo "no executable tessera binary at $BIN"; BIN_OK=0; }
if [ -z "${TESSERA_SKIP_UNIT:-}" ]; then
  part "cargo test --workspace --locked" unit_tests
else
  SUMMARY+=("SKIP  cargo test (TESSERA_SKIP_UNIT)")
fi

if [ $BIN_OK -eq 1 ] && [ $NODE_OK -eq 1 ]; then
  part "end-to-end tests (node --test tests/e2e)" e2e_tests
else
  skip "end-to-end tests" "no binary or node dependencies"
fi
if [ -n "${TESSERA_SKIP_CHAOS:-}" ]; then
  SUMMARY+=("SKIP  chaos run (TESSERA_SKIP_CHAOS)")
elif [ $BIN_OK -eq 1 ] && [ $NODE_OK -eq 1 ]; then
  part "chaos run (tests/chaos, bounded)" chaos_test
else
  skip "chaos run" "no binary or node dependencies"
fi
if [ $BIN_OK -eq 1 ] && [ $PY_OK -eq 1 ] && [ $NODE_OK -eq 1 ]; then
  part "status tests (pytest tests/status)" status_tests
else
  skip "status tests" "no binary or python/node dependencies"
fi
if [ $BIN_OK -eq 1 ]; then
  part "bot swarm smoke (bench/smoke.sh)" swarm_smoke
else
  skip "bot swarm smoke" "no binary"
fi

part "fuzz smoke (tessera-fuzz all, 10 s a target)" fuzz_smoke

echo
echo "=============================================================="
echo "== summary ($(( $(date +%s) - START_ALL ))s)"
for line in "${SUMMARY[@]}"; do echo "   $line"; done
echo "   server logs: tests/e2e/logs/ tests/status/logs/"
echo "=============================================================="
exit $FAILED
