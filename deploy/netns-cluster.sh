#!/usr/bin/env bash
# Three Tessera nodes in three network namespaces with their own addresses,
# as a cloud gives them, seeded by address and sharing one world folder: to
# try a cluster in one command, and for tests. Needs root, iproute2.
#
#   deploy/netns-cluster.sh up       # start nodes 1..3 at 10.78.0.11..13
#   deploy/netns-cluster.sh status   # each node's /readyz and players
#   deploy/netns-cluster.sh stop N   # SIGTERM node N (its regions move to the others)
#   deploy/netns-cluster.sh down     # stop every node, remove the namespaces
#
# Players connect to 10.78.0.11:25565 (or .12, .13) from this host. Settings:
#   TESSERA_BIN   the binary (default: target/release/tessera)
#   CLUSTER_DIR   world folder, logs and pids (default: /tmp/tessera-netns-cluster)
#   NODES         how many nodes (default 3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${TESSERA_BIN:-$ROOT/target/release/tessera}"
DIR="${CLUSTER_DIR:-/tmp/tessera-netns-cluster}"
NODES="${NODES:-3}"
BRIDGE=tnet0
NET=10.78.0
SECRET_FILE="$DIR/cluster-secret"

ns() { echo "tnet$1"; }
ip_of() { echo "$NET.1$1"; }

seeds() {
  local out="" i
  for i in $(seq 1 "$NODES"); do out+="${out:+,}$i@$(ip_of "$i"):25590"; done
  echo "$out"
}

network_up() {
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  local i
  for i in $(seq 1 "$NODES"); do
    ip netns add "$(ns "$i")"
    ip link add "tveth$i" type veth peer name eth0 netns "$(ns "$i")"
    ip link set "tveth$i" master "$BRIDGE" up
    ip netns exec "$(ns "$i")" ip addr add "$(ip_of "$i")/24" dev eth0
    ip netns exec "$(ns "$i")" ip link set eth0 up
    ip netns exec "$(ns "$i")" ip link set lo up
  done
}

network_down() {
  local i
  for i in $(seq 1 "$NODES"); do
    ip netns del "$(ns "$i")" 2>/dev/null || true
    ip link del "tveth$i" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
}

start_node() {
  local i="$1" ip
  ip="$(ip_of "$i")"
  cat > "$DIR/node-$i.toml" <<EOF
[server]
bind = "$ip:25565"
view_distance = 6

[world]
generator = "flat"
data_dir = "$DIR/world"
region_size = 4

[admin]
bind = "$ip:25580"

[cluster]
node_id = $i
bind = "$ip:25590"
seeds = [$(seeds | sed 's/\([^,]*\)/"\1"/g')]
EOF
  # `ip netns exec` execs the server, so the pid is the server's.
  # The server takes every TESSERA_* variable for a config key: not ours.
  env -u TESSERA_BIN TESSERA_CLUSTER_SECRET="$(cat "$SECRET_FILE")" \
    ip netns exec "$(ns "$i")" "$BIN" --config "$DIR/node-$i.toml" \
    < /dev/null > "$DIR/node-$i.log" 2>&1 &
  echo $! > "$DIR/node-$i.pid"
}

ready() { curl -fsS --max-time 2 "http://$(ip_of "$1"):25580/readyz" 2>/dev/null || echo "not ready"; }

case "${1:-}" in
  up)
    [ -x "$BIN" ] || { echo "no tessera binary at $BIN (cargo build --release)"; exit 1; }
    mkdir -p "$DIR/world"
    [ -s "$SECRET_FILE" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$SECRET_FILE"
    chmod 600 "$SECRET_FILE"
    network_down
    network_up
    started=$(date +%s.%N)
    for i in $(seq 1 "$NODES"); do start_node "$i"; done
    for i in $(seq 1 "$NODES"); do
      for _ in $(seq 1 120); do
        [ "$(ready "$i")" = "ready" ] && break
        sleep 0.5
      done
      [ "$(ready "$i")" = "ready" ] || { echo "node $i did not become ready; see $DIR/node-$i.log"; exit 1; }
    done
    printf 'cluster of %s nodes ready in %.1f s; players connect to %s\n' "$NODES" \
      "$(echo "$(date +%s.%N) - $started" | bc)" "$(for i in $(seq 1 "$NODES"); do printf '%s:25565 ' "$(ip_of "$i")"; done)"
    ;;
  status)
    for i in $(seq 1 "$NODES"); do
      players=$(curl -fsS --max-time 2 "http://$(ip_of "$i"):25580/metrics" 2>/dev/null | sed -n 's/^tessera_players_online //p' || true)
      printf 'node %s at %s: %s, %s players\n' "$i" "$(ip_of "$i")" "$(ready "$i")" "${players:-?}"
    done
    ;;
  stop)
    i="${2:?which node}"
    kill -TERM "$(cat "$DIR/node-$i.pid")" 2>/dev/null || true
    ;;
  down)
    for i in $(seq 1 "$NODES"); do
      [ -f "$DIR/node-$i.pid" ] || continue
      pid="$(cat "$DIR/node-$i.pid")"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$DIR/node-$i.pid"
    done
    network_down
    echo "cluster down; world and logs stay in $DIR"
    ;;
  *)
    sed -n '2,16p' "$0"
    exit 2
    ;;
esac
