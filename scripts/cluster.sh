#!/usr/bin/env bash
# The cluster stack, beside the single-node stack of stack.sh (which stays the default), data under
# $CHAT_VAR_DIR/cluster:
#  - a Redis Cluster: 3 masters with 1 replica each, Debian's redis-server on loopback, AOF with
#    appendfsync always (CHAT_REDIS_NODES points the binaries at it);
#  - a RabbitMQ cluster of 3 nodes, for quorum queues (CHAT_AMQP_NODES, CHAT_AMQP_QUEUE_TYPE=quorum);
#  - a MariaDB primary and a replica (CHAT_MYSQL_PORT / CHAT_MYSQL_REPLICA_PORT);
#  - an Elasticsearch cluster of 3 nodes, all master-eligible (CHAT_ES_URL lists them; the servers'
#    index gets 3 shards with 1 replica each: CHAT_ES_SHARDS, CHAT_ES_REPLICAS).
#
#   scripts/cluster.sh up        start both clusters (create them the first time); returns once the
#                                Redis Cluster is ok with every replica in sync and 3 brokers run
#   scripts/cluster.sh down      stop them and the servers (data kept)   wipe: down + delete data
#   scripts/cluster.sh status    CLUSTER NODES               scripts/cluster.sh env    export lines
#   scripts/cluster.sh servers-up BUILD_DIR   2 API servers (8080, 8081) and 2 workers on the clusters,
#                                in the background; returns once all answer (servers-down stops them)
#   scripts/cluster.sh server-env  the settings servers-up gives them, one VAR=value a line (make bench)
#   Redis alone: redis-up, redis-down, redis-wipe, kill PORT (SIGKILL a node), start PORT,
#                master-of KEY (the port of the master serving KEY's slot)
#   RabbitMQ alone: rabbitmq-up, rabbitmq-down, rabbitmq-kill PORT (SIGKILL a broker), rabbitmq-start
#                PORT, rabbitmqctl PORT ARGS (rabbitmqctl against that broker)
#   MariaDB alone: mysql-up, mysql-down, mysql-stop PORT, mysql-start REPLICA_PORT
#   Elasticsearch alone: es-up, es-down, es-kill PORT (SIGKILL a node), es-start PORT, es-master (the
#                port of the elected master)
#
# Redis ports: the stack's Redis port + 1 .. + 6 (6381-6386 beside `make run`, 16381-16386 beside the
# test stack); the cluster bus on each port + 100, so two stacks' clusters never share a port.
. "$(dirname "$0")/common.sh"
. "$ROOT/scripts/es-install.sh"

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

redis_up() {
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

redis_down() {
    local port
    for port in "${PORTS[@]}"; do
        local pidfile
        pidfile="$(node_dir "$port")/redis.pid"
        node_cli "$port" shutdown >/dev/null 2>&1 || true
        wait_for "! pid_alive $pidfile redis-server" 20 "redis node $port to stop" || true
    done
}

status() { node_cli "${PORTS[0]}" cluster nodes 2>/dev/null || node_cli "${PORTS[3]}" cluster nodes; }

# addr_list PREFIX PORT...: "PREFIX127.0.0.1:PORT,...", the shape of the CHAT_* node lists.
addr_list() {
    local prefix="$1" list="" port
    shift
    for port in "$@"; do list+="${list:+,}${prefix}127.0.0.1:$port"; done
    echo "$list"
}

node_list() { addr_list "" "${PORTS[@]}"; }

env_lines() {
    echo "export CHAT_REDIS_NODES='$(node_list)'"
    echo "export CHAT_AMQP_NODES='$(rmq_list)' CHAT_AMQP_QUEUE_TYPE=quorum"
    echo "export CHAT_ES_URL='$(es_list)' CHAT_ES_SHARDS=3 CHAT_ES_REPLICAS=1"
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

# --- RabbitMQ: 3 nodes in one cluster; our queues become quorum queues (replicated on all 3) -----
# AMQP on the stack's port + 1 .. + 3. Erlang distribution on the AMQP port + 9000 + 1, 5, 9 with
# each node's CLI on the 3 ports above its own: 12 ports a stack, clear of the next stack's (20 away),
# of stack.sh's single node (AMQP port + 20000 and up) and, for the stacks of test-env.sh, below
# Linux's ephemeral ports (32768 and up), which outgoing connections take at random.
RMQ_BIN=/usr/lib/rabbitmq/bin
RMQ_HOME="$CLUSTER_DIR/rabbitmq"  # one HOME, so one Erlang cookie for the three nodes
RMQ_PORTS=()
for i in 1 2 3; do RMQ_PORTS+=($((CHAT_AMQP_PORT + i))); done

rmq_node() { echo "chatc$1@localhost"; }
rmq_dist() { echo $((CHAT_AMQP_PORT + 9000 + ($1 - CHAT_AMQP_PORT - 1) * 4 + 1)); }

# rmq_env PORT: the environment of node PORT's server and of CLI calls aimed at it (see stack.sh).
rmq_env() {
    local port="$1" dist dir
    dist="$(rmq_dist "$port")"
    dir="$RMQ_HOME/$port"
    RMQ_ENV=(
        ERL_EPMD_ADDRESS=127.0.0.1
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
        RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
        HOME="$RMQ_HOME"
        RABBITMQ_NODENAME="$(rmq_node "$port")"
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        RABBITMQ_NODE_PORT="$port"
        RABBITMQ_DIST_PORT="$dist"
        RABBITMQ_CTL_DIST_PORT_MIN=$((dist + 1))
        RABBITMQ_CTL_DIST_PORT_MAX=$((dist + 3))
        RABBITMQ_MNESIA_BASE="$dir/mnesia"
        RABBITMQ_LOG_BASE="$dir/log"
        RABBITMQ_PID_FILE="$dir/beam.pid"
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
        RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
        RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
    )
}

rmq_at() { # PORT TOOL ARGS...
    local port="$1" tool="$2"
    shift 2
    rmq_env "$port"
    timeout 60 env "${RMQ_ENV[@]}" "$RMQ_BIN/$tool" "$@"
}

rmq_node_up() { tcp_open 127.0.0.1 "$1" && rmq_at "$1" rabbitmq-diagnostics -q ping >/dev/null 2>&1; }

rmq_node_start() {
    local port="$1" dir="$RMQ_HOME/$1"
    rmq_node_up "$port" && return 0
    mkdir -p "$dir/log"
    cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$port
loopback_users = none
log.file.level = info
CONF
    echo '[].' >"$dir/enabled_plugins"
    : >"$dir/rabbitmq-env.conf"
    rmq_env "$port"
    (cd "$dir" && exec setsid env "${RMQ_ENV[@]}" "$RMQ_BIN/rabbitmq-server") >>"$dir/console.log" 2>&1 </dev/null &
    echo $! >"$dir/launcher.pid"
}

rmq_running_nodes() { rmq_at "$1" rabbitmqctl -q cluster_status --formatter json 2>/dev/null |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))'; }

rmq_up() {
    local port first="${RMQ_PORTS[0]}"
    for port in "${RMQ_PORTS[@]}"; do rmq_node_start "$port"; done
    for port in "${RMQ_PORTS[@]}"; do
        wait_for "rmq_node_up $port || ! pid_alive $RMQ_HOME/$port/launcher.pid rabbitmq-server" 120 \
            "rabbitmq node $port" || die "rabbitmq node $port did not start; see $RMQ_HOME/$port/log"
        if ! rmq_node_up "$port"; then
            # It died starting (a port it needs was taken for a moment, say): once more.
            log "rabbitmq node $port exited while starting; starting it again"
            rmq_node_start "$port"
            wait_for "rmq_node_up $port" 120 "rabbitmq node $port" ||
                die "rabbitmq node $port did not start; see $RMQ_HOME/$port/console.log"
        fi
    done
    if [[ ! -f "$RMQ_HOME/clustered" ]]; then
        log "rabbitmq cluster: joining $(rmq_node "${RMQ_PORTS[1]}") and $(rmq_node "${RMQ_PORTS[2]}") to $(rmq_node "$first")"
        for port in "${RMQ_PORTS[@]:1}"; do
            rmq_at "$port" rabbitmqctl -q stop_app >/dev/null
            rmq_at "$port" rabbitmqctl -q join_cluster "$(rmq_node "$first")" >/dev/null
            rmq_at "$port" rabbitmqctl -q start_app >/dev/null
        done
        # Users and permissions are cluster-wide: once, on the first node.
        rmq_at "$first" rabbitmqctl -q add_user "$CHAT_AMQP_USER" "$CHAT_AMQP_PASSWORD" >/dev/null 2>&1 ||
            rmq_at "$first" rabbitmqctl -q change_password "$CHAT_AMQP_USER" "$CHAT_AMQP_PASSWORD" >/dev/null
        rmq_at "$first" rabbitmqctl -q set_user_tags "$CHAT_AMQP_USER" administrator >/dev/null
        rmq_at "$first" rabbitmqctl -q set_permissions -p "$CHAT_AMQP_VHOST" "$CHAT_AMQP_USER" '.*' '.*' '.*' >/dev/null
        touch "$RMQ_HOME/clustered"
    fi
    wait_for "[[ \$(rmq_running_nodes $first) == 3 ]]" 120 "rabbitmq cluster of 3" || die "rabbitmq cluster is not whole"
    log "rabbitmq cluster: 3 nodes on ${RMQ_PORTS[*]}"
}

rmq_down() {
    local port pid
    for port in "${RMQ_PORTS[@]}"; do
        pid="$(read_pid "$RMQ_HOME/$port/beam.pid" beam)" || continue
        rmq_at "$port" rabbitmqctl -q stop >/dev/null 2>&1 || true
        # `stop` removes the pid file before the VM is gone: wait for the pid read before it.
        wait_for "! kill -0 $pid" 30 "rabbitmq node $port to stop" || kill -9 "$pid" 2>/dev/null || true
    done
}

rmq_kill() {
    local pid
    pid="$(read_pid "$RMQ_HOME/$1/beam.pid" beam)" || die "no rabbitmq node running on $1"
    kill -9 "$pid"
    log "rabbitmq node $1: SIGKILLed (pid $pid)"
}

rmq_list() { addr_list "" "${RMQ_PORTS[@]}"; }

# --- MariaDB: a primary and a replica (binlog replication, GTID) --------------------------------
# On the stack's MariaDB port + 1 (primary) and + 2 (replica), data under $CLUSTER_DIR/mysql-PORT.
MYSQL_PRIMARY=$((CHAT_MYSQL_PORT + 1))
MYSQL_REPLICA=$((CHAT_MYSQL_PORT + 2))

mysql_sock() { echo "$CLUSTER_DIR/mysql-$1.sock"; }
mysql_root() { mariadb --no-defaults --socket="$(mysql_sock "$1")" -u root "${@:2}"; }
mysql_up_at() { mariadb-admin --no-defaults --socket="$(mysql_sock "$1")" -u root --connect-timeout=2 ping >/dev/null 2>&1; }

mysql_node_start() { # PORT SERVER_ID EXTRA...
    local port="$1" id="$2" dir="$CLUSTER_DIR/mysql-$1"
    shift 2
    mysql_up_at "$port" && return 0
    mkdir -p "$CLUSTER_DIR"
    if [[ ! -d "$dir/mysql" ]]; then
        rm -rf "$dir.tmp"
        mariadb-install-db --no-defaults --datadir="$dir.tmp" --user=root --auth-root-authentication-method=socket \
            --skip-test-db >"$CLUSTER_DIR/mysql-$port-install.log" 2>&1 || die "mysql $port: install failed"
        mv "$dir.tmp" "$dir"
    fi
    setsid mariadbd --no-defaults --datadir="$dir" --socket="$(mysql_sock "$port")" --port="$port" \
        --bind-address=127.0.0.1 --user=root --pid-file="$dir.pid" --log-error="$dir.log" \
        --innodb-buffer-pool-size=128M --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --skip-name-resolve --max-connections=500 --server-id="$id" --log-bin=mysql-bin --binlog-format=ROW \
        "$@" >>"$dir.log" 2>&1 </dev/null &
    echo $! >"$dir.pid"
    wait_for "mysql_up_at $port" 60 "mysql $port" || die "mysql $port did not start; see $dir.log"
}

mysql_pair_up() {
    mysql_node_start "$MYSQL_PRIMARY" 1
    mysql_node_start "$MYSQL_REPLICA" 2 --read-only --relay-log=relay-bin
    if [[ ! -f "$CLUSTER_DIR/mysql-replicating" ]]; then
        local db user pw
        db="\`$CHAT_MYSQL_DATABASE\`"
        user="'$CHAT_MYSQL_USER'"
        pw="'$CHAT_MYSQL_PASSWORD'"
        # On the primary, into its binlog: the replica replays all of it from the start.
        mysql_root "$MYSQL_PRIMARY" <<SQL || die "mysql: provisioning the primary failed"
CREATE DATABASE IF NOT EXISTS $db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS $user@'127.0.0.1' IDENTIFIED BY $pw;
GRANT ALL PRIVILEGES ON $db.* TO $user@'127.0.0.1';
CREATE USER IF NOT EXISTS 'repl'@'127.0.0.1' IDENTIFIED BY 'repl';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';
SQL
        mysql_root "$MYSQL_REPLICA" <<SQL || die "mysql: starting replication failed"
STOP SLAVE;
SET GLOBAL gtid_slave_pos = '';
CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $MYSQL_PRIMARY, MASTER_USER = 'repl',
    MASTER_PASSWORD = 'repl', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1;
START SLAVE;
SQL
        touch "$CLUSTER_DIR/mysql-replicating"
    fi
    CHAT_MYSQL_PORT="$MYSQL_PRIMARY" "$ROOT/scripts/migrate.sh" >/dev/null
    wait_for "mysql_caught_up" 60 "the mysql replica to catch up" || die "the mysql replica does not replicate"
    log "mysql: primary on $MYSQL_PRIMARY, replica on $MYSQL_REPLICA"
}

# The replica runs both replication threads and has applied the primary's last transaction.
mysql_caught_up() {
    local status primary_pos
    status="$(mysql_root "$MYSQL_REPLICA" -e 'SHOW SLAVE STATUS\G')"
    grep -q 'Slave_IO_Running: Yes' <<<"$status" && grep -q 'Slave_SQL_Running: Yes' <<<"$status" || return 1
    primary_pos="$(mysql_root "$MYSQL_PRIMARY" -N -e 'SELECT @@gtid_binlog_pos')"
    [[ "$(mysql_root "$MYSQL_REPLICA" -N -e 'SELECT @@gtid_slave_pos')" == "$primary_pos" ]]
}

mysql_node_stop() {
    local pid
    pid="$(read_pid "$CLUSTER_DIR/mysql-$1.pid" mariadbd)" || return 0
    mariadb-admin --no-defaults --socket="$(mysql_sock "$1")" -u root shutdown >/dev/null 2>&1 || kill -TERM "$pid"
    wait_for "! kill -0 $pid" 60 "mysql $1 to stop" || kill -9 "$pid" 2>/dev/null || true
}

mysql_pair_down() {
    mysql_node_stop "$MYSQL_REPLICA"
    mysql_node_stop "$MYSQL_PRIMARY"
}

# --- Elasticsearch: 3 nodes, each master-eligible and a data node ------------------------------
# HTTP on the stack's Elasticsearch port + 1 .. + 3, transport on each + 100 (the single node of
# stack.sh keeps its port and port + 100). Data in $ES_BASE/cluster-es/PORT, which $ES_USER can
# reach (see es-install.sh).
ES_PORTS=()
for i in 1 2 3; do ES_PORTS+=($((CHAT_ES_HTTP_PORT + i))); done
es_setup_base
ES_NODES_DIR="$ES_BASE/cluster-es"

es_node_dir() { echo "$ES_NODES_DIR/$1"; }
es_node_name() { echo "es-$1"; }
es_node_up() { curl -fs --max-time 2 "http://127.0.0.1:$1/_cluster/health?local=true" >/dev/null; }

es_node_start() {
    local port="$1" dir seeds="" masters="" p
    dir="$(es_node_dir "$port")"
    es_node_up "$port" && return 0
    # Started and still starting (its launcher waits for it), or running and not answering yet.
    pid_alive "$dir/launcher.pid" runuser && return 0
    pid_alive "$dir/es.pid" java && return 0
    es_install_home
    es_prepare_dir "$dir"
    # A config directory of its own: a node writes its keystore there on its first start.
    if [[ ! -d "$dir/config" ]]; then
        cp -a "$ES_HOME/config" "$dir/config.tmp" && chown -R "$ES_USER:" "$dir/config.tmp" && mv "$dir/config.tmp" "$dir/config"
    fi
    for p in "${ES_PORTS[@]}"; do
        seeds+="${seeds:+,}127.0.0.1:$((p + 100))"
        masters+="${masters:+,}$(es_node_name "$p")"
    done
    es_launch "$dir" "$dir/config" "$port" "$dir/startup.log" "$dir/launcher.pid" \
        -E node.name="$(es_node_name "$port")" -E cluster.name="chat-cluster-$CHAT_ES_HTTP_PORT" \
        -E discovery.seed_hosts="$seeds" -E cluster.initial_master_nodes="$masters"
}

# All 3 nodes in the cluster and every shard copy assigned.
es_cluster_green() {
    curl -fs --max-time 5 "http://127.0.0.1:${ES_PORTS[0]}/_cluster/health?wait_for_nodes=3&wait_for_status=green&timeout=2s" |
        grep -q '"timed_out":false'
}

# The JVMs take longest: `up` launches them first and waits for them last.
es_start_all() {
    local port
    for port in "${ES_PORTS[@]}"; do es_node_start "$port"; done
}

es_up() {
    local port
    es_start_all
    for port in "${ES_PORTS[@]}"; do
        wait_for "es_node_up $port" 180 "elasticsearch node $port" ||
            { tail -n 20 "$(es_node_dir "$port")/startup.log" >&2; die "elasticsearch node $port did not start; see $(es_node_dir "$port")/logs"; }
    done
    wait_for es_cluster_green 120 "elasticsearch cluster of 3, green" || die "the elasticsearch cluster is not whole"
    log "elasticsearch cluster: 3 nodes on ${ES_PORTS[*]}"
}

es_node_stop() {
    local pid
    pid="$(read_pid "$(es_node_dir "$1")/es.pid" java)" || return 0
    kill -TERM "$pid"
    wait_for "! kill -0 $pid" 60 "elasticsearch node $1 to stop" || kill -9 "$pid" 2>/dev/null || true
}

es_down() {
    local port
    for port in "${ES_PORTS[@]}"; do es_node_stop "$port"; done
}

es_kill() {
    local pid
    pid="$(read_pid "$(es_node_dir "$1")/es.pid" java)" || die "no elasticsearch node running on $1"
    kill -9 "$pid"
    log "elasticsearch node $1: SIGKILLed (pid $pid)"
}

# The HTTP port of the elected master, asked of any live node.
es_master() {
    local port name
    for port in "${ES_PORTS[@]}"; do
        name="$(curl -fs --max-time 5 "http://127.0.0.1:$port/_cat/master?h=node" 2>/dev/null)" || continue
        [[ "$name" == es-* ]] && { echo "${name#es-}" | tr -d '[:space:]'; echo; return 0; }
    done
    die "no elasticsearch node answers"
}

es_list() { addr_list http:// "${ES_PORTS[@]}"; }

# --- the service on the cluster: 2 API servers and 2 workers, in the background -----------------
: "${CHAT_CLUSTER_API_PORTS:=8080 8081}"
: "${CHAT_CLUSTER_METRICS_PORTS:=9464 9465}"
SERVERS_DIR="$CLUSTER_DIR/servers"

# What the servers are given on top of the stack's settings: the clusters' addresses, and a search
# index of their own (their database's application ids are not the stack database's).
server_env() {
    SERVER_ENV=("CHAT_REDIS_NODES=$(node_list)" CHAT_REDIS_WAIT_REPLICAS=1
        "CHAT_AMQP_NODES=$(rmq_list)" CHAT_AMQP_QUEUE_TYPE=quorum
        "CHAT_MYSQL_PORT=$MYSQL_PRIMARY" "CHAT_MYSQL_REPLICA_PORT=$MYSQL_REPLICA"
        "CHAT_ES_URL=$(es_list)" CHAT_ES_INDEX=messages_cluster CHAT_ES_SHARDS=3 CHAT_ES_REPLICAS=1)
}

start_server() { # NAME BINARY VAR=VALUE...
    local name="$1" bin="$2"
    shift 2
    pid_alive "$SERVERS_DIR/$name.pid" "$(basename "$bin")" && return 0
    server_env
    # exec: the pid is the server's own, so servers-down finds it by its name.
    (exec env "${SERVER_ENV[@]}" "$@" nohup "$bin" >>"$SERVERS_DIR/$name.log" 2>&1 </dev/null) &
    echo $! >"$SERVERS_DIR/$name.pid"
}

servers_up() {
    local build="${1:?build dir}" port
    mkdir -p "$SERVERS_DIR"
    read -ra metrics <<<"$CHAT_CLUSTER_METRICS_PORTS"
    for port in "${metrics[@]}"; do
        start_server "worker-$port" "$build/chat_worker" "CHAT_WORKER_METRICS_PORT=$port"
    done
    for port in $CHAT_CLUSTER_API_PORTS; do
        start_server "api-$port" "$build/chat_api_server" "CHAT_HTTP_PORT=$port"
    done
    for port in $CHAT_CLUSTER_API_PORTS; do
        wait_for "curl -fsS http://127.0.0.1:$port/healthz" 60 "API server on $port" ||
            die "the API server on $port did not answer; see $SERVERS_DIR/api-$port.log"
    done
    for port in "${metrics[@]}"; do
        wait_for "curl -fsS http://127.0.0.1:$port/metrics" 60 "worker (metrics on $port)" ||
            die "the worker with metrics on $port did not answer; see $SERVERS_DIR/worker-$port.log"
    done
    log "serving on the cluster: API on $CHAT_CLUSTER_API_PORTS, workers (metrics) on $CHAT_CLUSTER_METRICS_PORTS; logs in $SERVERS_DIR"
}

servers_down() {
    local f pid pids=()
    for f in "$SERVERS_DIR"/*.pid; do
        [[ -e "$f" ]] || continue
        if pid="$(read_pid "$f" chat_)"; then
            kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
        fi
        rm -f "$f"
    done
    # They finish what they hold (CHAT_SHUTDOWN_TIMEOUT_S) while Redis and RabbitMQ still run.
    for pid in "${pids[@]}"; do wait_for "! kill -0 $pid" 60 "server $pid to stop" || kill -9 "$pid" 2>/dev/null || true; done
}

case "${1:-}" in
    up) es_start_all; redis_up; rmq_up; mysql_pair_up; es_up ;;
    mysql-up) mysql_pair_up ;;
    mysql-down) mysql_pair_down ;;
    mysql-stop) mysql_node_stop "${2:?port}" ;;
    mysql-start) mysql_node_start "${2:?port}" 2 --read-only --relay-log=relay-bin ;;
    es-up) es_up ;;
    es-down) es_down ;;
    es-kill) es_kill "${2:?port}" ;;
    es-start) es_node_start "${2:?port}"; wait_for "es_node_up $2" 180 "elasticsearch node $2" ;;
    es-master) es_master ;;
    redis-up) redis_up ;;
    redis-down) redis_down ;;
    rabbitmq-up) rmq_up ;;
    rabbitmq-down) rmq_down ;;
    rabbitmq-kill) rmq_kill "${2:?port}" ;;
    rabbitmqctl) rmq_at "${2:?port}" rabbitmqctl "${@:3}" ;;
    rabbitmq-start) rmq_node_start "${2:?port}"; wait_for "rmq_node_up $2" 120 "rabbitmq node $2" ;;
    servers-up) servers_up "${2:-}" ;;
    server-env) server_env; printf '%s\n' "${SERVER_ENV[@]}" ;;
    servers-down) servers_down ;;
    down) servers_down; redis_down; rmq_down; mysql_pair_down; es_down ;;
    redis-wipe) redis_down; rm -rf "$CLUSTER_DIR"/redis-* "$CLUSTER_DIR/created" ;;
    wipe) servers_down; redis_down; rmq_down; mysql_pair_down; es_down; rm -rf "$CLUSTER_DIR" "$ES_NODES_DIR" ;;
    status) status ;;
    env) env_lines ;;
    kill) kill_node "${2:?port}" ;;
    start) node_start "${2:?port}" ;;
    master-of) master_of "${2:?key}" ;;
    *) echo "usage: $0 up|down|wipe|status|env|servers-up BUILD_DIR|servers-down" >&2
       echo "       $0 redis-up|redis-down|redis-wipe|kill PORT|start PORT|master-of KEY" >&2
       echo "       $0 rabbitmq-up|rabbitmq-down|rabbitmq-kill PORT|rabbitmq-start PORT|rabbitmqctl PORT ARGS" >&2
       echo "       $0 mysql-up|mysql-down|mysql-stop PORT|mysql-start REPLICA_PORT" >&2
       echo "       $0 es-up|es-down|es-kill PORT|es-start PORT|es-master" >&2; exit 2 ;;
esac
