#!/usr/bin/env bash
# The cluster stack's Redis Cluster: 3 masters with 1 replica each, Debian's redis-server on loopback,
# AOF with appendfsync always, data under $CHAT_VAR_DIR/cluster. It runs beside the single-node stack
# of stack.sh (which stays the default) and is what CHAT_REDIS_NODES points the binaries at.
#
#   scripts/cluster.sh up        start the nodes (create the cluster the first time); returns once the
#                                cluster is ok and every replica is in sync
#   scripts/cluster.sh down      stop them (data kept)       scripts/cluster.sh wipe   down + delete data
#   scripts/cluster.sh status    CLUSTER NODES               scripts/cluster.sh env    export lines
#   scripts/cluster.sh kill PORT SIGKILL one node            scripts/cluster.sh start PORT   start it again
#   scripts/cluster.sh master-of KEY    the port of the master serving KEY's slot
#
# Ports: the stack's Redis port + 1 .. + 6 (6381-6386 beside `make run`, 16381-16386 beside the test
# stack); the cluster bus on each port + 100, so two stacks' clusters never share a port.
. "$(dirname "$0")/common.sh"

CLUSTER_DIR="$CHAT_VAR_DIR/cluster"
# The cluster's failure detection: a master unreachable for this long is failed over by its replica.
: "${CHAT_CLUSTER_NODE_TIMEOUT_MS:=2000}"
PORTS=()
for i in 1 2 3 4 5 6; do PORTS+=($((CHAT_REDIS_PORT + i))); done

node_cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }
node_dir() { echo "$CLUSTER_DIR/redis-$1"; }
node_up() { [[ "$(node_cli "$1" ping 2>/dev/null)" == PONG ]]; }

node_start() {
    local port="$1" dir
    dir="$(node_dir "$port")"
    mkdir -p "$dir"
    node_up "$port" && return 0
    # Same durability as the single node (stack.sh): AOF only, fsync on every write.
    redis-server --bind 127.0.0.1 --port "$port" --cluster-port $((port + 100)) --dir "$dir" \
        --cluster-enabled yes --cluster-config-file nodes.conf \
        --cluster-node-timeout "$CHAT_CLUSTER_NODE_TIMEOUT_MS" \
        --cluster-require-full-coverage no --cluster-allow-reads-when-down no \
        --appendonly yes --appendfsync "$CHAT_REDIS_APPENDFSYNC" --save "" \
        --auto-aof-rewrite-min-size 512mb \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" </dev/null >>"$dir/redis.log" 2>&1 ||
        die "redis node $port failed to start; see $dir/redis.log"
    wait_for "node_up $port" 20 "redis node $port" || die "redis node $port did not start; see $dir/redis.log"
}

# Every slot served, and every replica linked to its master and in sync.
cluster_ready() {
    node_cli "${PORTS[0]}" cluster info | grep -q '^cluster_state:ok' || return 1
    local port
    for port in "${PORTS[@]}"; do
        local info
        info="$(node_cli "$port" info replication)"
        if grep -q '^role:slave' <<<"$info"; then
            grep -q '^master_link_status:up' <<<"$info" || return 1
            grep -q '^master_sync_in_progress:0' <<<"$info" || return 1
        fi
    done
    # Every node agrees on the map (a node that just restarted learns it over the bus).
    for port in "${PORTS[@]}"; do node_cli "$port" cluster info | grep -q '^cluster_state:ok' || return 1; done
}

up() {
    local port
    for port in "${PORTS[@]}"; do node_start "$port"; done
    if [[ ! -f "$CLUSTER_DIR/created" ]]; then
        local addrs=()
        for port in "${PORTS[@]}"; do addrs+=("127.0.0.1:$port"); done
        log "redis cluster: creating 3 masters + 3 replicas on ${PORTS[*]}"
        redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$CLUSTER_DIR/create.log" 2>&1 ||
            { cat "$CLUSTER_DIR/create.log" >&2; die "redis cluster: create failed"; }
        touch "$CLUSTER_DIR/created"
    fi
    wait_for cluster_ready 60 "redis cluster" || { status >&2; die "redis cluster is not ready"; }
    log "redis cluster: ok on ${PORTS[*]}"
}

down() {
    local port
    for port in "${PORTS[@]}"; do
        local pidfile
        pidfile="$(node_dir "$port")/redis.pid"
        node_cli "$port" shutdown >/dev/null 2>&1 || true
        wait_for "! pid_alive $pidfile redis-server" 20 "redis node $port to stop" || true
    done
}

status() { node_cli "${PORTS[0]}" cluster nodes 2>/dev/null || node_cli "${PORTS[3]}" cluster nodes; }

env_lines() {
    local list="" port
    for port in "${PORTS[@]}"; do list+="${list:+,}127.0.0.1:$port"; done
    echo "export CHAT_REDIS_NODES='$list'"
}

kill_node() {
    local pid
    pid="$(read_pid "$(node_dir "$1")/redis.pid" redis-server)" || die "no redis node running on $1"
    kill -9 "$pid"
    log "redis node $1: SIGKILLed (pid $pid)"
}

# The port of the master that serves KEY's slot now, asked of any live node.
master_of() {
    local port slot
    for port in "${PORTS[@]}"; do
        slot="$(node_cli "$port" cluster keyslot "$1" 2>/dev/null)" || continue
        [[ "$slot" =~ ^[0-9]+$ ]] || continue
        node_cli "$port" cluster nodes | awk -v slot="$slot" '
            $3 ~ /master/ && $3 !~ /fail/ {
                for (i = 9; i <= NF; i++) { n = split($i, r, "-"); lo = r[1]; hi = (n > 1 ? r[2] : r[1]);
                    if (slot >= lo && slot <= hi) { split($2, a, "[:@]"); print a[2]; exit } } }'
        return 0
    done
    die "no redis node answers"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    wipe) down; rm -rf "$CLUSTER_DIR" ;;
    status) status ;;
    env) env_lines ;;
    kill) kill_node "${2:?port}" ;;
    start) node_start "${2:?port}" ;;
    master-of) master_of "${2:?key}" ;;
    *) echo "usage: $0 up|down|wipe|status|env|kill PORT|start PORT|master-of KEY" >&2; exit 2 ;;
esac
