#!/usr/bin/env bash
# Runs one swarm scenario against a fresh release server and prints the
# swarm's JSON line; the server is always stopped afterwards.
#
#   bench/measure.sh [swarm options...]
#   VIEW_DISTANCE=10 bench/measure.sh --scenario spread --bots 200 --duration 60
#
# The server gets a temporary config: loopback ports picked by the kernel,
# flat world, 5000 slots, view distance $VIEW_DISTANCE (default 10), regions
# of $REGION_SIZE chunks (default 32), and a fresh data folder. --port, --server-pid and --metrics-url are filled in.
# Offline players need not /register and /login (peer servers have no such
# step) unless REQUIRE_LOGIN=true. OP_BOTS=N makes bot0 … bot<N-1> operators
# through the console first, so spread bots may use /tp (vanilla asks level 2).
# DATA_DIR=folder puts the fresh world folder inside that folder instead
# of the temporary one (DATA_DIR=/dev/shm: a tmpfs, where fsync costs
# nothing, as the baseline of the durable disk's cost). KEEP_LOG=file keeps the server's log; PERF_OUT=file records a perf
# profile of the server for the whole run (needs perf); SERVER_BIN=path
# measures another server binary (e.g. a copy pinned for a series of runs).
# MAP_VIEWERS=N keeps N map pages open for the whole run (bench/map_viewer.py:
# the live stream, and every region picture again whenever it changes), to
# measure what an open map costs the server.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
release="${CARGO_TARGET_DIR:-$root/target}/release"
server="${SERVER_BIN:-$release/tessera}"
[[ -x "$server" && -x "$release/swarm" ]] || {
    echo "measure: build first: cargo build --release -p tessera-server -p tessera-bench" >&2
    exit 1
}

work="$(mktemp -d)"
world="$work/world"
[[ -n "${DATA_DIR:-}" ]] && world="$(mktemp -d "$DATA_DIR/tessera-measure-XXXXXX")"
# shellcheck source=bench/server.sh
source "$root/bench/server.sh"
perf_pid=""
viewers=()
cleanup() {
    for viewer in "${viewers[@]}"; do
        kill -TERM "$viewer" 2>/dev/null || true
        wait "$viewer" 2>/dev/null || true
    done
    if [[ -n "$perf_pid" ]]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
    fi
    stop_server
    if [[ -n "${KEEP_LOG:-}" ]]; then
        cp "$work/server.log" "$KEEP_LOG"
    fi
    rm -rf "$work" "$world"
}
trap cleanup EXIT

write_config "$work/config.toml" "$world"

console=/dev/null
if [[ -n "${OP_BOTS:-}" ]]; then
    console="$work/console"
    mkfifo "$console"
    # Held open so the server's console never reads end of input.
    exec 3<> "$console"
fi
start_server "$server" "$work/config.toml" "$work/server.log" "$console" || exit 1
if [[ -n "${OP_BOTS:-}" ]]; then
    for ((i = 0; i < OP_BOTS; i++)); do echo "op bot$i" >&3; done
    for _ in $(seq 600); do
        (($(grep -c 'a server operator' "$work/server.log.console" || true) >= OP_BOTS)) && break
        sleep 0.1
    done
fi
metrics=()
[[ -n "$admin" ]] && metrics=(--metrics-url "$admin/metrics")
for ((i = 0; i < ${MAP_VIEWERS:-0}; i++)); do
    python3 "$root/bench/map_viewer.py" "$admin" &
    viewers+=($!)
done
if [[ -n "${PERF_OUT:-}" ]]; then
    perf record -F 199 --call-graph dwarf,16384 -p "$server_pid" -o "$PERF_OUT" 2> "$work/perf.log" &
    perf_pid=$!
fi

"$release/swarm" --port "$port" --server-pid "$server_pid" "${metrics[@]}" --wait-ready 10 "$@"
