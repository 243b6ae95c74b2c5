# Sourced by smoke.sh and measure.sh: starts a tessera server whose config
# binds port 0, learns the ports it picked from its log, and stops it.
# After start_server: server_pid, port (Minecraft) and admin (admin URL).

server_pid="" port="" admin=""

# write_config <file> <world folder>: a measured server's config: loopback
# ports picked by the kernel, flat world, 5000 slots, view distance
# $VIEW_DISTANCE (10), regions of $REGION_SIZE chunks (32), login gate
# $REQUIRE_LOGIN (false).
write_config() {
    cat > "$1" <<EOF
[server]
bind = "127.0.0.1:0"
max_players = 5000
view_distance = ${VIEW_DISTANCE:-10}

[world]
generator = "flat"
data_dir = "$2"
region_size = ${REGION_SIZE:-32}

[admin]
bind = "127.0.0.1:0"

[auth]
require_login = ${REQUIRE_LOGIN:-false}
EOF
}

# start_server <binary> <config> <log> [console input]
# The console's answers go to <log>.console.
start_server() {
    # Created before the server starts, so the polling below never races it.
    : > "$3"
    "$1" --config "$2" < "${4:-/dev/null}" 2> "$3" > "$3.console" &
    server_pid=$!
    for _ in $(seq 200); do
        port="$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$3" | head -n1 || true)"
        admin="$(sed -n 's/.*admin interface on \(http:[^ ]*\).*/\1/p' "$3" | head -n1 || true)"
        [[ -n "$port" ]] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "$(basename "$0"): the server did not start listening" >&2
    cat "$3" >&2
    return 1
}

# Stops the server: SIGTERM and its grace period, then SIGKILL.
stop_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
