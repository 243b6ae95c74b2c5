# Sourced by smoke.sh and measure.sh: starts a tessera server whose config
# binds port 0, learns the ports it picked from its log, and stops it.
# After start_server: server_pid, port (Minecraft) and admin (admin URL).

server_pid="" port="" admin=""

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
