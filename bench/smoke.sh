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
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        # Give it the grace period, then make sure.
        for _ in $(seq 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
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

# Created before the server starts, so the polling below never races its creation.
: > "$work/server.log"
"$release/tessera" --config "$work/config.toml" < /dev/null 2> "$work/server.log" &
server_pid=$!

port=""
for _ in $(seq 200); do
    port="$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$work/server.log" | head -n1 || true)"
    [[ -n "$port" ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
done
if [[ -z "$port" ]]; then
    echo "smoke: the server did not start listening" >&2
    cat "$work/server.log" >&2
    exit 1
fi

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
