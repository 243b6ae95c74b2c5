#!/usr/bin/env bash
# CI smoke test of the bot swarm against the release server: five bots walk
# in a crowd for five seconds; every one must join and none may be kicked.
#
#   bench/smoke.sh            (builds the release binaries first if missing)
#
# Exits non-zero on any failure; the server is always stopped.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
release="${CARGO_TARGET_DIR:-$root/target}/release"
if [[ ! -x "$release/tessera" || ! -x "$release/swarm" ]]; then
    cargo build --release --manifest-path "$root/Cargo.toml" -p tessera-server -p tessera-bench
fi

work="$(mktemp -d)"
# shellcheck source=bench/server.sh
source "$root/bench/server.sh"
cleanup() {
    stop_server
    rm -rf "$work"
}
trap cleanup EXIT

# Port 0: the server picks free ports and logs them, so parallel runs never collide.
cat > "$work/config.toml" <<'EOF'
[server]
bind = "127.0.0.1:0"
max_players = 5000
view_distance = 4

[world]
generator = "flat"

[admin]
bind = "127.0.0.1:0"
EOF

start_server "$release/tessera" "$work/config.toml" "$work/server.log" || exit 1

report="$("$release/swarm" --scenario crowd --bots 5 --duration 5 --warmup 1 \
    --port "$port" --server-pid "$server_pid" --wait-ready 10)"
echo "$report"

# Checked with grep rather than jq, which CI images may lack; the swarm
# prints compact JSON, so these fields appear exactly like this.
fail=0
grep -q '"joined":5,' <<<"$report" || { echo "smoke: not all 5 bots joined" >&2; fail=1; }
grep -q '"failed":0,' <<<"$report" || { echo "smoke: some bots failed to join" >&2; fail=1; }
grep -q '"kicks":{"count":0,' <<<"$report" || { echo "smoke: bots were kicked" >&2; fail=1; }
if [[ $fail -ne 0 ]]; then
    echo "--- server log ---" >&2
    cat "$work/server.log" >&2
    exit 1
fi
echo "smoke: ok"
