#!/usr/bin/env bash
# Runs the same swarm against Tessera and a peer server one after the other,
# several alternating repeats per scenario, and prints one table of means and
# ratios (Tessera / peer). The peer is built and run outside the repository
# (../shared/CLIENTS.md: Valence's bench_players example).
#
#   bench/compare.sh <peer-binary> [swarm options...]
#   REPEATS=3 SCENARIOS="crowd spread" BOTS=300 DURATION=40 bench/compare.sh ~/valence/bench_players
#
# Before each run the one-minute load average must be at most MAX_LOAD
# (default 0.7); the script waits up to SETTLE seconds (default 180) for it,
# then runs anyway and flags the row: a figure taken under load is not one.
# PEER_PORT (default 25565) is the port the peer listens on, on 127.0.0.1.
# Every run's JSON line is kept in OUT (default a fresh temporary folder).
# Tessera runs through bench/measure.sh (flat world, view distance 10, the
# login gate off, as the peer has none); set its variables to change that.
# BASE=dir adds a third server: the Tessera build in dir/release (tessera
# and swarm), run in the same rotation, for a before/after of a change.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
release="${CARGO_TARGET_DIR:-$root/target}/release"
peer="${1:?usage: bench/compare.sh <peer-binary> [swarm options...]}"
shift
[[ -x "$peer" ]] || { echo "compare: $peer is not an executable" >&2; exit 1; }
[[ -x "$release/tessera" && -x "$release/swarm" ]] || {
    echo "compare: build first: cargo build --release -p tessera-server -p tessera-bench" >&2
    exit 1
}

repeats="${REPEATS:-3}"
scenarios="${SCENARIOS:-crowd spread}"
bots="${BOTS:-300}"
duration="${DURATION:-40}"
max_load="${MAX_LOAD:-0.7}"
settle="${SETTLE:-180}"
peer_port="${PEER_PORT:-25565}"
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"

load() { cut -d' ' -f1 /proc/loadavg; }
quiet() { awk -v l="$(load)" -v m="$max_load" 'BEGIN { exit !(l <= m) }'; }

# Waits for a quiet machine; prints the load the run starts at, with a
# star if it never got quiet enough.
settle_down() {
    local waited=0
    until quiet; do
        if ((waited >= settle)); then
            echo "compare: load $(load) is above $max_load after ${settle}s; the run is flagged" >&2
            echo "$(load)*"
            return
        fi
        sleep 5
        waited=$((waited + 5))
    done
    load
}

peer_pid=""
peer_dir=""
stop_peer() {
    if [[ -n "$peer_pid" ]] && kill -0 "$peer_pid" 2>/dev/null; then
        kill -TERM "$peer_pid" 2>/dev/null || true
        sleep 1
        kill -KILL "$peer_pid" 2>/dev/null || true
        wait "$peer_pid" 2>/dev/null || true
    fi
    peer_pid=""
    [[ -n "$peer_dir" ]] && rm -rf "$peer_dir"
    peer_dir=""
}
trap stop_peer EXIT

run_tessera() { # <scenario> <file>
    env -u TESSERA_BIN "$root/bench/measure.sh" --scenario "$1" --bots "$bots" \
        --duration "$duration" "${extra[@]}" > "$2"
}

run_base() { # <scenario> <file>
    env -u TESSERA_BIN CARGO_TARGET_DIR="$BASE" "$root/bench/measure.sh" --scenario "$1" \
        --bots "$bots" --duration "$duration" "${extra[@]}" > "$2"
}

# Whether something already listens on the peer's port: the swarm would
# play against it while the script measured the idle peer it started.
port_taken() { (exec 3<> "/dev/tcp/127.0.0.1/$peer_port") 2> /dev/null; }

run_peer() { # <scenario> <file>
    if port_taken; then
        echo "compare: something already listens on 127.0.0.1:$peer_port; stop it first" >&2
        exit 1
    fi
    peer_dir="$(mktemp -d)"
    (cd "$peer_dir" && exec "$peer") > "$peer_dir/log" 2>&1 &
    peer_pid=$!
    "$release/swarm" --port "$peer_port" --server-pid "$peer_pid" --wait-ready 60 \
        --scenario "$1" --bots "$bots" --duration "$duration" "${extra[@]}" > "$2"
    if ! kill -0 "$peer_pid" 2> /dev/null; then
        echo "compare: the peer exited during the run; its log:" >&2
        cat "$peer_dir/log" >&2
        exit 1
    fi
    stop_peer
}

extra=("$@")
echo "compare: $repeats repeats of [$scenarios], $bots bots, ${duration}s; runs in $out" >&2
for ((r = 1; r <= repeats; r++)); do
    for scenario in $scenarios; do
        # Alternate who goes first, so a trend in the machine's state
        # favours neither.
        order="tessera ${BASE:+base }peer"
        ((r % 2 == 0)) && order="peer ${BASE:+base }tessera"
        for who in $order; do
            file="$out/$scenario.$who.$r.json"
            start_load="$(settle_down)"
            echo "compare: $scenario $who repeat $r (load $start_load)" >&2
            "run_$who" "$scenario" "$file"
            printf '%s\n' "$start_load" > "$file.load"
        done
    done
done

python3 - "$out" "$repeats" "$scenarios" "${BASE:+base}" <<'EOF'
import json, statistics, sys
from pathlib import Path

out, repeats, scenarios = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split()
servers = ["tessera", "peer"] + (["base"] if sys.argv[4] else [])
measures = [
    ("server CPU per bot-second (ms)", lambda j: j["server_cpu_ms_per_bot_second"]),
    ("packets per bot-second", lambda j: j["packets_per_bot_per_s"]),
    ("KB per bot-second", lambda j: j["bytes_per_bot_per_s"] / 1000),
    ("join-to-spawn p95 (ms)", lambda j: j["join_to_spawn_ms"]["p95"]),
    ("RSS at the end (MB)", lambda j: j["server_rss_mb"]),
    ("bots in the world at the end", lambda j: j["stayed"]),
]
if "base" in servers:
    print("| scenario | measure | Tessera | peer | Tessera / peer | base | Tessera / base |")
    print("|---|---|---|---|---|---|---|")
else:
    print("| scenario | measure | Tessera | peer | Tessera / peer |")
    print("|---|---|---|---|---|")
for scenario in scenarios:
    runs = {}
    loads = {}
    for who in servers:
        files = [out / f"{scenario}.{who}.{r}.json" for r in range(1, repeats + 1)]
        runs[who] = [json.loads(f.read_text()) for f in files if f.exists() and f.stat().st_size]
        loads[who] = [Path(f"{f}.load").read_text().strip() for f in files if Path(f"{f}.load").exists()]
    for name, get in measures:
        values = {who: [get(j) for j in runs[who]] for who in runs}
        if not all(values.values()):
            continue
        mean = {who: statistics.fmean(v) for who, v in values.items()}
        shown = {who: f"{mean[who]:.3f} ({min(v):.3g}–{max(v):.3g})" for who, v in values.items()}
        ratio = lambda a, b: f"**{mean[a] / mean[b]:.2f}×**" if mean[b] else "–"
        row = f"| {scenario} | {name} | {shown['tessera']} | {shown['peer']} | {ratio('tessera', 'peer')} |"
        if "base" in servers:
            row += f" {shown['base']} | {ratio('tessera', 'base')} |"
        print(row)
    row = f"| {scenario} | load before each run | {', '.join(loads['tessera'])} | {', '.join(loads['peer'])} | |"
    if "base" in servers:
        row += f" {', '.join(loads['base'])} | |"
    print(row)
print()
print("Means over the repeats (min–max in brackets); a load with * was above the limit.")
EOF
