#!/usr/bin/env bash
# Runs one swarm scenario against two fresh release nodes of one cluster on
# 127.0.0.1 sharing one world, half the bots connected to each, and prints
# one JSON line: both servers' CPU per bot-second together, and each half's
# swarm line. The nodes are always stopped afterwards.
#
#   bench/two_nodes.sh [swarm options...]      # --bots is the total
#   bench/two_nodes.sh --scenario spread --bots 300 --duration 40
#
# The nodes get the same config as bench/measure.sh's single node
# (`write_config` in bench/server.sh) plus a [cluster] section
# on CLUSTER_PORTS (default "25791 25792"). Placement spreads the regions over
# both nodes, so a bot on one node often stands in a region the other owns:
# its inputs and its view cross the cluster transport.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
release="${CARGO_TARGET_DIR:-$root/target}/release"
server="${SERVER_BIN:-$release/tessera}"
[[ -x "$server" && -x "$release/swarm" ]] || {
    echo "two_nodes: build first: cargo build --release -p tessera-server -p tessera-bench" >&2
    exit 1
}

bots=10
args=()
while (($#)); do
    case "$1" in
        --bots) bots="$2"; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
read -r -a cports <<< "${CLUSTER_PORTS:-25791 25792}"
for p in "${cports[@]}"; do
    if ss -ltn "( sport = :$p )" | grep -q LISTEN; then
        echo "two_nodes: port $p is taken (set CLUSTER_PORTS)" >&2
        exit 1
    fi
done

work="$(mktemp -d)"
# shellcheck source=bench/server.sh
source "$root/bench/server.sh"
pids=() ports=() admins=()
cleanup() {
    for pid in "${pids[@]}"; do
        server_pid="$pid" stop_server
    done
    rm -rf "$work"
}
trap cleanup EXIT

export TESSERA_CLUSTER_SECRET="bench-two-nodes-secret-0123456789"
for id in 1 2; do
    write_config "$work/node$id.toml" "$work/world"
    cat >> "$work/node$id.toml" <<EOF

[cluster]
node_id = $id
bind = "127.0.0.1:${cports[id - 1]}"
seeds = ["1@127.0.0.1:${cports[0]}", "2@127.0.0.1:${cports[1]}"]
EOF
    start_server "$server" "$work/node$id.toml" "$work/node$id.log" || exit 1
    pids+=("$server_pid") ports+=("$port") admins+=("$admin")
done
for admin_url in "${admins[@]}"; do
    for _ in $(seq 600); do
        [[ "$(curl -s -o /dev/null -w '%{http_code}' "$admin_url/readyz")" == 200 ]] && break
        sleep 0.1
    done
done

half=$((bots / 2))
for i in 0 1; do
    n=$((i == 0 ? half : bots - half))
    "$release/swarm" --port "${ports[i]}" --server-pid "${pids[i]}" \
        --metrics-url "${admins[i]}/metrics" --wait-ready 10 --name-prefix "n$((i + 1))bot" \
        --bots "$n" "${args[@]}" > "$work/swarm$i.json" 2> "$work/swarm$i.err" &
    swarms[i]=$!
done
wait "${swarms[0]}" "${swarms[1]}" || true
python3 - "$work/swarm0.json" "$work/swarm1.json" <<'EOF'
import json, sys
halves = [json.loads(open(p).read().strip().splitlines()[-1]) for p in sys.argv[1:]]
cpu = sum(h["server_cpu_seconds"] for h in halves)
bot_seconds = sum(h["bot_seconds"] for h in halves)
print(json.dumps({
    "nodes": 2,
    "bots": sum(h["started"] for h in halves),
    "stayed": sum(h["stayed"] for h in halves),
    "server_cpu_seconds": cpu,
    "bot_seconds": bot_seconds,
    "server_cpu_ms_per_bot_second": 1000 * cpu / bot_seconds if bot_seconds else None,
    "bytes_per_bot_per_s": sum(h["bytes_per_bot_per_s"] * h["bot_seconds"] for h in halves) / bot_seconds if bot_seconds else None,
    "server_rss_mb": [h["server_rss_mb"] for h in halves],
    "halves": halves,
}))
EOF
