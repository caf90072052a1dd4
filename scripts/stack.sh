#!/usr/bin/env bash
# Starts, stops and checks OUR OWN MariaDB, Redis, RabbitMQ and Elasticsearch
# instances. Everything binds to 127.0.0.1 on the CHAT_* ports and keeps its
# data under $CHAT_VAR_DIR, so several stacks (e.g. a developer's `make run`
# stack and the test stack from scripts/test-env.sh) can run side by side and
# never touch the system services installed by the Debian packages.
#
#   scripts/stack.sh up [SERVICE...]
#                            start what is not answering yet; returns when all
#                            four (or the SERVICEs named: mysql, redis,
#                            rabbitmq, elasticsearch) pass their health check
#                            (120s max each)
#   scripts/stack.sh down    stop all four (reverse order); idempotent
#   scripts/stack.sh status  one line per service; exit 0 only if all answer
#   scripts/stack.sh wipe    stop all four and delete their data (keeps the
#                            downloads and the unpacked Elasticsearch)
#
# Must run as root: Elasticsearch refuses root and is started as the
# unprivileged user `chat-es` (created by scripts/install-deps.sh).
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$ROOT/scripts/es-install.sh"

RUN_DIR="$CHAT_VAR_DIR/run"
LOG_DIR="$CHAT_VAR_DIR/log"
START_TIMEOUT="${CHAT_START_TIMEOUT:-120}"
STOP_TIMEOUT=60

# ==========================================================================
# Generic process handling
# ==========================================================================

# Print the end of each existing log so a CI failure is readable as is.
show_log_tails() {
    local f
    for f in "$@"; do
        [[ -s "$f" ]] || continue
        log "---- last lines of $f ----"
        tail -n 30 "$f" >&2 || true
    done
}

# wait_until_up NAME HEALTH_CMD ALIVE_CMD LOGFILE...
# Polls HEALTH_CMD like wait_for, but gives up early when ALIVE_CMD says the
# process has died, instead of sitting out the whole timeout. ALIVE_CMD gets a
# few seconds of grace: daemons write their pid files shortly after forking.
wait_until_up() {
    local name="$1" health="$2" alive="$3"
    shift 3
    local t0=$SECONDS
    until eval "$health" >/dev/null 2>&1; do
        if ((SECONDS - t0 > 5)) && ! eval "$alive" >/dev/null 2>&1 &&
            ! eval "$health" >/dev/null 2>&1; then
            show_log_tails "$@"
            die "$name exited during startup; see $*"
        fi
        if ((SECONDS - t0 >= START_TIMEOUT)); then
            show_log_tails "$@"
            die "$name did not answer within ${START_TIMEOUT}s; see $*"
        fi
        sleep 0.5
    done
}

# pid_on_port PORT PATTERN: pid of the process listening on 127.0.0.1:PORT if
# its command line contains PATTERN. Fallback for a lost pid file, so `down`
# still stops a server that answers on our port.
pid_on_port() {
    local pid
    pid="$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2)"
    [[ -n "$pid" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
    echo "$pid"
}

# stop_process NAME PIDFILE PATTERN PORT STOP_CMD...
# Finds the process via PIDFILE (or, if that is stale, whatever matching
# PATTERN listens on PORT; PORT may be empty), asks it to stop with STOP_CMD
# (SIGTERM if there is none or it fails), waits for it to exit and SIGKILLs it
# after $STOP_TIMEOUT, so `down` never leaves an orphan behind.
stop_process() {
    local name="$1" pidfile="$2" pattern="$3" port="$4" pid
    shift 4
    if ! pid="$(read_pid "$pidfile" "$pattern")"; then
        rm -f "$pidfile"
        [[ -n "$port" ]] && pid="$(pid_on_port "$port" "$pattern")" || return 0
        log "$name: pid file missing, found pid $pid on port $port"
    fi
    log "$name: stopping (pid $pid)"
    if (($# == 0)) || ! "$@"; then
        kill -TERM "$pid" 2>/dev/null || true
    fi
    if ! wait_for "! kill -0 $pid" "$STOP_TIMEOUT" "$name shutdown"; then
        log "$name: still running after ${STOP_TIMEOUT}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_for "! kill -0 $pid" 10 "$name kill" || die "cannot kill $name (pid $pid)"
    fi
    rm -f "$pidfile"
}

# ==========================================================================
# MariaDB
# ==========================================================================
MYSQL_DATA="$CHAT_VAR_DIR/mysql"
MYSQL_SOCK="$RUN_DIR/mysql.sock"
MYSQL_PIDFILE="$RUN_DIR/mysql.pid"
MYSQL_LOG="$LOG_DIR/mysql.err"

# SQL literal / identifier quoting, so odd passwords or names can't break out.
sql_str() { printf "'%s'" "${1//\'/\'\'}"; }
# shellcheck disable=SC2016 # literal backticks
sql_ident() { printf '`%s`' "${1//\`/\`\`}"; }

mysql_healthy() {
    # Over TCP as the app user, like the backend connects. Fails until
    # mysql_provision has created the user (unknown users get "host not
    # allowed" before authentication, which mariadb-admin treats as down).
    MYSQL_PWD="$CHAT_MYSQL_PASSWORD" mariadb-admin --no-defaults --protocol=TCP \
        -h "$CHAT_MYSQL_HOST" -P "$CHAT_MYSQL_PORT" -u "$CHAT_MYSQL_USER" \
        --connect-timeout=2 ping >/dev/null 2>&1
}

# The server itself answers on our socket (works before provisioning).
mysql_socket_ping() {
    [[ -S "$MYSQL_SOCK" ]] &&
        mariadb-admin --no-defaults --socket="$MYSQL_SOCK" -u root --connect-timeout=2 ping >/dev/null 2>&1
}

mysql_init_datadir() {
    [[ -d "$MYSQL_DATA/mysql" ]] && return 0
    log "mysql: initialising $MYSQL_DATA"
    # Initialise into a scratch dir and rename, so a half-done init is never
    # mistaken for a real datadir on the next run.
    rm -rf "$MYSQL_DATA.tmp"
    if ! mariadb-install-db --no-defaults --datadir="$MYSQL_DATA.tmp" --user=root \
        --auth-root-authentication-method=socket --skip-test-db \
        >"$LOG_DIR/mysql-install.log" 2>&1; then
        show_log_tails "$LOG_DIR/mysql-install.log"
        die "mysql: mariadb-install-db failed; see $LOG_DIR/mysql-install.log"
    fi
    rm -rf "$MYSQL_DATA"
    mv "$MYSQL_DATA.tmp" "$MYSQL_DATA"
}

mysql_start() {
    # Unix socket paths are limited to 107 bytes.
    ((${#MYSQL_SOCK} < 100)) || die "socket path too long, use a shorter CHAT_VAR_DIR: $MYSQL_SOCK"
    mysql_init_datadir
    log "mysql: starting on 127.0.0.1:$CHAT_MYSQL_PORT"
    setsid mariadbd --no-defaults \
        --datadir="$MYSQL_DATA" --socket="$MYSQL_SOCK" \
        --port="$CHAT_MYSQL_PORT" --bind-address=127.0.0.1 \
        --user=root --pid-file="$MYSQL_PIDFILE" --log-error="$MYSQL_LOG" \
        --innodb-buffer-pool-size=256M \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --skip-name-resolve --max-connections=500 \
        >>"$MYSQL_LOG" 2>&1 </dev/null &
    # setsid execs mariadbd, so $! is the server. Record it now: mariadbd only
    # writes its pid file after storage-engine init, which can take a while.
    echo $! >"$MYSQL_PIDFILE"
}

mysql_alive() { pid_alive "$MYSQL_PIDFILE" mariadbd; }

mysql_wait() {
    wait_until_up mysql mysql_running mysql_alive "$MYSQL_LOG"
}

# Database + app user, over the socket as root. Cheap and idempotent, so it
# runs on every `up`; ALTER USER keeps the password in sync with the config.
mysql_provision() {
    local db user pw
    db="$(sql_ident "$CHAT_MYSQL_DATABASE")"
    user="$(sql_str "$CHAT_MYSQL_USER")"
    pw="$(sql_str "$CHAT_MYSQL_PASSWORD")"
    mariadb --no-defaults --socket="$MYSQL_SOCK" -u root <<SQL ||
CREATE DATABASE IF NOT EXISTS $db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS $user@'127.0.0.1' IDENTIFIED BY $pw;
CREATE USER IF NOT EXISTS $user@'localhost' IDENTIFIED BY $pw;
ALTER USER $user@'127.0.0.1' IDENTIFIED BY $pw;
ALTER USER $user@'localhost' IDENTIFIED BY $pw;
GRANT ALL PRIVILEGES ON $db.* TO $user@'127.0.0.1';
GRANT ALL PRIVILEGES ON $db.* TO $user@'localhost';
SQL
        die "mysql: provisioning via $MYSQL_SOCK failed (is port $CHAT_MYSQL_PORT served by another server?)"
}

mysql_shutdown() {
    mariadb-admin --no-defaults --socket="$MYSQL_SOCK" -u root shutdown >/dev/null 2>&1
}

# "Up" for `up`: answering on the socket is enough, provisioning follows.
mysql_running() { mysql_socket_ping || mysql_healthy; }

mysql_stop() { stop_process mysql "$MYSQL_PIDFILE" mariadbd "$CHAT_MYSQL_PORT" mysql_shutdown; }

# ==========================================================================
# Redis
# ==========================================================================
REDIS_DATA="$CHAT_VAR_DIR/redis"
REDIS_PIDFILE="$RUN_DIR/redis.pid"
REDIS_LOG="$LOG_DIR/redis.log"

redis_cli() { redis-cli -h "$CHAT_REDIS_HOST" -p "$CHAT_REDIS_PORT" "$@"; }

redis_healthy() { [[ "$(redis_cli ping 2>/dev/null)" == PONG ]]; }
redis_running() { redis_healthy; }

redis_start() {
    mkdir -p "$REDIS_DATA"
    log "redis: starting on 127.0.0.1:$CHAT_REDIS_PORT"
    # AOF only (--save "" disables RDB snapshots). Redis daemonizes itself
    # (and calls setsid), so this returns at once; early errors (bad option)
    # go to stderr, hence the same log file.
    # auto-aof-rewrite-min-size: Redis forks and rewrites its AOF each time the file doubled past this
    # size. At the default 64mb a creation load (about 1 KiB of AOF per creation) made it rewrite every
    # 10-20 s, and on 2 cores each rewrite took 15-25% off creation throughput while it ran. The
    # dataset it rewrites is small (counters, entries awaiting the worker), so a later first rewrite
    # costs only disk space.
    # shellcheck disable=SC2094
    if ! redis-server --bind 127.0.0.1 --port "$CHAT_REDIS_PORT" --dir "$REDIS_DATA" \
        --appendonly yes --appendfsync "$CHAT_REDIS_APPENDFSYNC" --save "" \
        --auto-aof-rewrite-min-size 512mb \
        --daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" \
        </dev/null >>"$REDIS_LOG" 2>&1; then
        show_log_tails "$REDIS_LOG"
        die "redis: failed to start; see $REDIS_LOG"
    fi
}

redis_alive() { pid_alive "$REDIS_PIDFILE" redis-server; }

redis_wait() {
    wait_until_up redis redis_healthy redis_alive "$REDIS_LOG"
}

redis_shutdown() { redis_cli shutdown >/dev/null 2>&1 || true; } # SHUTDOWN fsyncs the AOF

redis_stop() { stop_process redis "$REDIS_PIDFILE" redis-server "$CHAT_REDIS_PORT" redis_shutdown; }

# ==========================================================================
# RabbitMQ
# ==========================================================================
RMQ_DIR="$CHAT_VAR_DIR/rabbitmq"
RMQ_NODE="chat$CHAT_AMQP_PORT@localhost"
RMQ_DIST_PORT=$((CHAT_AMQP_PORT + 20000))
RMQ_PIDFILE="$RUN_DIR/rabbitmq.pid"
RMQ_LAUNCH_PIDFILE="$RUN_DIR/rabbitmq-launcher.pid"
RMQ_LOG="$LOG_DIR/rabbitmq/$RMQ_NODE.log"
RMQ_CONSOLE_LOG="$LOG_DIR/rabbitmq-console.log"
# Call the real scripts, not the /usr/sbin wrappers: as root those `su` to
# the `rabbitmq` user and reset HOME, so they would neither find our Erlang
# cookie nor be allowed to write our var dir.
RMQ_BIN=/usr/lib/rabbitmq/bin

# The environment shared by the server and every CLI call, so they agree on
# node name, ports and cookie.
#  - HOME decides where the Erlang cookie lives ($HOME/.erlang.cookie).
#  - RABBITMQ_CONF_ENV_FILE keeps /etc/rabbitmq/rabbitmq-env.conf out.
#  - The CLI's own distribution ports default to 35672-35682, which contains
#    the test stack's node port (15673+20000), so each stack gets its own.
#  - Erlang distribution (node + CLI) and an epmd we start listen on all
#    interfaces by default; keep them on loopback like everything else.
RMQ_LOOPBACK_DIST="-kernel inet_dist_use_interface {127,0,0,1}"
RMQ_ENV=(
    ERL_EPMD_ADDRESS=127.0.0.1
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$RMQ_LOOPBACK_DIST"
    RABBITMQ_CTL_ERL_ARGS="$RMQ_LOOPBACK_DIST"
    HOME="$RMQ_DIR"
    RABBITMQ_NODENAME="$RMQ_NODE"
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    RABBITMQ_NODE_PORT="$CHAT_AMQP_PORT"
    RABBITMQ_DIST_PORT="$RMQ_DIST_PORT"
    RABBITMQ_CTL_DIST_PORT_MIN=$((RMQ_DIST_PORT + 1))
    RABBITMQ_CTL_DIST_PORT_MAX=$((RMQ_DIST_PORT + 10))
    RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia"
    RABBITMQ_LOG_BASE="$LOG_DIR/rabbitmq"
    RABBITMQ_PID_FILE="$RMQ_PIDFILE"
    RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf"
    RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config"
    RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
    RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf"
)

# rmq TOOL ARGS...: run rabbitmqctl / rabbitmq-diagnostics for this node,
# bounded by a timeout so a wedged node can't hang `up` or `down`.
rmq() {
    local tool="$1"
    shift
    timeout "$STOP_TIMEOUT" env "${RMQ_ENV[@]}" "$RMQ_BIN/$tool" "$@"
}

# The broker answers the AMQP protocol header with its Connection.Start frame (frame type 1) once its
# listener is up, which is the end of its boot. Asked on the wire: `rabbitmq-diagnostics ping` boots an
# Erlang VM for each call (about a second of CPU), and tests restart the broker under load.
rmq_healthy() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "AMQP\x00\x00\x09\x01" >&3 &&
        [[ "$(head -c 1 <&3 | od -An -tx1)" == " 01" ]]' _ "$CHAT_AMQP_PORT" 2>/dev/null
}

rmq_running() { rmq_healthy; }

rmq_write_config() {
    mkdir -p "$RMQ_DIR" "$LOG_DIR/rabbitmq"
    cat >"$RMQ_DIR/rabbitmq.conf" <<EOF
# Generated by scripts/stack.sh on every start; do not edit.
listeners.tcp.default = 127.0.0.1:$CHAT_AMQP_PORT
# Everything is on loopback anyway; let any user log in.
loopback_users = none
log.file.level = info
EOF
    # No plugins, in particular no management plugin with its own HTTP port.
    echo '[].' >"$RMQ_DIR/enabled_plugins"
    : >"$RMQ_DIR/rabbitmq-env.conf"
}

rmq_start() {
    rmq_write_config
    log "rabbitmq: starting node $RMQ_NODE on 127.0.0.1:$CHAT_AMQP_PORT"
    # Foreground server in its own session (`-detached` is unreliable). The
    # launcher shell stays the parent of the Erlang VM, which writes
    # $RMQ_PIDFILE itself. epmd (port 4369) is shared by all Erlang nodes and
    # started on demand.
    (cd "$RMQ_DIR" && exec setsid env "${RMQ_ENV[@]}" "$RMQ_BIN/rabbitmq-server") \
        >>"$RMQ_CONSOLE_LOG" 2>&1 </dev/null &
    echo $! >"$RMQ_LAUNCH_PIDFILE"
}

rmq_alive() {
    pid_alive "$RMQ_LAUNCH_PIDFILE" rabbitmq-server || pid_alive "$RMQ_PIDFILE" beam
}

rmq_wait() {
    wait_until_up rabbitmq rmq_healthy rmq_alive "$RMQ_LOG" "$RMQ_CONSOLE_LOG"
}

# App user + permissions. rabbitmqctl calls cost ~1s each, so this runs once
# per data dir (the marker lives next to the mnesia data it describes).
rmq_provision() {
    local marker="$RMQ_DIR/.provisioned"
    local want="$CHAT_AMQP_USER:$CHAT_AMQP_PASSWORD:$CHAT_AMQP_VHOST"
    [[ -f "$marker" && "$(<"$marker")" == "$want" ]] && return 0
    log "rabbitmq: provisioning user $CHAT_AMQP_USER on vhost $CHAT_AMQP_VHOST"
    rmq rabbitmqctl -q await_startup >/dev/null || die "rabbitmq: broker did not start; see $RMQ_LOG"
    if rmq rabbitmqctl -q list_users | awk '{print $1}' | grep -qxF -- "$CHAT_AMQP_USER"; then
        rmq rabbitmqctl -q change_password "$CHAT_AMQP_USER" "$CHAT_AMQP_PASSWORD" >/dev/null
    else
        rmq rabbitmqctl -q add_user "$CHAT_AMQP_USER" "$CHAT_AMQP_PASSWORD" >/dev/null
    fi
    rmq rabbitmqctl -q set_user_tags "$CHAT_AMQP_USER" administrator >/dev/null
    if ! rmq rabbitmqctl -q list_vhosts | grep -qxF -- "$CHAT_AMQP_VHOST"; then
        rmq rabbitmqctl -q add_vhost "$CHAT_AMQP_VHOST" >/dev/null
    fi
    rmq rabbitmqctl -q set_permissions -p "$CHAT_AMQP_VHOST" "$CHAT_AMQP_USER" '.*' '.*' '.*' >/dev/null
    # guest/guest is not needed, and loopback_users=none would make it usable.
    if [[ "$CHAT_AMQP_USER" != guest ]]; then
        rmq rabbitmqctl -q delete_user guest >/dev/null 2>&1 || true
    fi
    printf '%s' "$want" >"$marker"
}

rmq_shutdown() { rmq rabbitmqctl -q stop >/dev/null; }

rmq_stop() {
    # Matched by its home, not just "beam": another stack's node may hold this port as its
    # distribution port (AMQP port + 20000), and must not be stopped for ours.
    stop_process rabbitmq "$RMQ_PIDFILE" "-home $RMQ_DIR " "$CHAT_AMQP_PORT" rmq_shutdown
    # The launcher shell exits right after the VM; SIGTERM makes it stop the VM
    # should the VM pid file be missing.
    stop_process rabbitmq-launcher "$RMQ_LAUNCH_PIDFILE" rabbitmq-server ""
    # The first Erlang node on the machine started epmd. Stop it again, unless
    # other nodes (e.g. the other stack's) are registered: epmd -kill refuses
    # then.
    epmd -kill >/dev/null 2>&1 || true
}

# ==========================================================================
# Elasticsearch
# ==========================================================================

# Where the distribution lives and who owns it: es-install.sh (shared with cluster.sh).
es_setup_paths() {
    es_setup_base
    ES_DIR="$ES_BASE/es"
    ES_PIDFILE="$ES_DIR/es.pid"
    ES_LAUNCH_PIDFILE="$RUN_DIR/es-launcher.pid"
    ES_LOG="$ES_DIR/logs/chat-$CHAT_ES_HTTP_PORT.log"
    ES_STARTUP_LOG="$LOG_DIR/es-startup.log"
}

es_healthy() {
    curl -fs --max-time 5 \
        "$CHAT_ES_URL/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null
}
es_running() { es_healthy; }

es_prepare_install() {
    es_install_home
    es_setup_paths # install-deps.sh may just have created $ES_USER, which moves ES_BASE
    es_prepare_dir "$ES_DIR"
}

es_start() {
    es_prepare_install
    log "elasticsearch: starting on $CHAT_ES_URL (transport port $CHAT_ES_TRANSPORT_PORT)"
    # In the background (es-install.sh), so the other services start meanwhile. Single-node (dev)
    # mode: no discovery, no bootstrap checks.
    es_launch "$ES_DIR" "$ES_HOME/config" "$CHAT_ES_HTTP_PORT" "$ES_STARTUP_LOG" "$ES_LAUNCH_PIDFILE" \
        -E discovery.type=single-node -E cluster.name="chat-$CHAT_ES_HTTP_PORT"
}

es_alive() { pid_alive "$ES_LAUNCH_PIDFILE" runuser || pid_alive "$ES_PIDFILE" java; }

es_wait() {
    # The launcher exits once the node is up; then the node's pid file counts.
    wait_until_up elasticsearch es_healthy es_alive "$ES_LOG" "$ES_STARTUP_LOG"
    rm -f "$ES_LAUNCH_PIDFILE"
}

es_stop() {
    # SIGTERM is ES's graceful shutdown. A launcher still waiting for the node
    # to start (`down` during `up`) is stopped the same way.
    stop_process elasticsearch "$ES_PIDFILE" java "$CHAT_ES_HTTP_PORT"
    stop_process elasticsearch-launcher "$ES_LAUNCH_PIDFILE" runuser ""
}

# ==========================================================================
# Commands
# ==========================================================================

service_label() {
    case "$1" in
        mysql) echo "mariadb        127.0.0.1:$CHAT_MYSQL_PORT" ;;
        redis) echo "redis          127.0.0.1:$CHAT_REDIS_PORT" ;;
        rmq) echo "rabbitmq       127.0.0.1:$CHAT_AMQP_PORT ($RMQ_NODE)" ;;
        es) echo "elasticsearch  $CHAT_ES_URL" ;;
    esac
}

# up [SERVICE...]: the short names of the services named (all four by default), slowest first.
services_named() {
    (($# == 0)) && set -- elasticsearch mysql redis rabbitmq
    local name
    for name in "$@"; do
        case "$name" in
            elasticsearch) echo es ;;
            mysql | redis) echo "$name" ;;
            rabbitmq) echo rmq ;;
            *) die "unknown service $name (mysql, redis, rabbitmq, elasticsearch)" ;;
        esac
    done
}

cmd_up() {
    local pending=() svc t0=$SECONDS wanted
    mapfile -t wanted < <(services_named "$@")
    # Launch everything that is not answering, then wait for all of them:
    # ES is by far the slowest, so the others come up while its JVM boots.
    # A service whose process exists but does not answer yet (an earlier `up`
    # was interrupted) is waited for, never started twice.
    for svc in "${wanted[@]}"; do
        if "${svc}_running"; then
            log "$(service_label "$svc"): already up"
            continue
        elif "${svc}_alive"; then
            log "$(service_label "$svc"): process exists, waiting for it"
        else
            "${svc}_start"
        fi
        pending+=("$svc")
    done
    for svc in mysql redis rmq es; do
        [[ " ${pending[*]} " == *" $svc "* ]] || continue
        "${svc}_wait"
        log "$svc: answering after $((SECONDS - t0))s"
    done
    [[ " ${wanted[*]} " == *" mysql "* ]] && mysql_provision
    [[ " ${wanted[*]} " == *" rmq "* ]] && rmq_provision
    # Final check with exactly what `status` (and the backend) use.
    for svc in "${wanted[@]}"; do
        wait_for "${svc}_healthy" 30 "$svc" || die "$svc runs but fails its health check; see $LOG_DIR"
    done
    log "stack up in $((SECONDS - t0))s (var dir $CHAT_VAR_DIR)"
}

cmd_down() {
    es_stop
    rmq_stop
    redis_stop
    mysql_stop
    log "stack down (var dir $CHAT_VAR_DIR)"
}

cmd_status() {
    local svc rc=0
    for svc in mysql redis rmq es; do
        if "${svc}_healthy"; then
            printf '%-58s up\n' "$(service_label "$svc")"
        else
            printf '%-58s DOWN\n' "$(service_label "$svc")"
            rc=3
        fi
    done
    return "$rc"
}

# stop SERVICE: one server only (fault drills and tests); `up` starts it again.
cmd_stop() {
    case "${1:-}" in
        mysql) mysql_stop ;;
        redis) redis_stop ;;
        rabbitmq) rmq_stop ;;
        elasticsearch) es_stop ;;
        *) die "usage: $0 stop mysql|redis|rabbitmq|elasticsearch" ;;
    esac
}

# The benchmark starts every run from empty servers, so that runs compare.
cmd_wipe() {
    cmd_down
    rm -rf "$MYSQL_DATA" "$REDIS_DATA" "$RMQ_DIR" "$ES_DIR/data"
    log "data deleted (var dir $CHAT_VAR_DIR)"
}

# rabbitmqctl ARGS: rabbitmqctl against this stack's node (e.g. list_queues name type messages).
cmd_rabbitmqctl() {
    rmq rabbitmqctl "$@"
}

main() {
    local cmd="${1:-}"
    case "$cmd" in
        up | down | status | stop | wipe | rabbitmqctl) ;;
        *) die "usage: $0 up|down|status|wipe|stop SERVICE|rabbitmqctl ARGS" ;;
    esac
    ((EUID == 0)) || die "must run as root (Elasticsearch is started as $ES_USER via runuser)"
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    # One up/down at a time per var dir (e.g. parallel make targets). flock -o
    # keeps the lock fd out of the daemons we spawn, which would otherwise
    # hold the lock forever.
    if [[ "$cmd" != status && "$cmd" != rabbitmqctl && "${CHAT_STACK_LOCKED:-}" != "$CHAT_VAR_DIR" ]]; then
        CHAT_STACK_LOCKED="$CHAT_VAR_DIR" exec flock -o "$RUN_DIR/stack.lock" "$BASH" "$0" "$@"
    fi
    unset CHAT_STACK_LOCKED # not for the daemons
    es_setup_paths
    shift
    "cmd_$cmd" "$@"
}

main "$@"
