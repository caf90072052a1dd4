# shellcheck shell=bash
# shellcheck disable=SC2034 # variables defined here are used by the includers
# Shared setup for the scripts in this directory. Source it, don't run it:
#   . "$(dirname "$0")/common.sh"
#
# Every CHAT_* setting below is only a default: a value already in the
# environment wins. That is how the test stack (scripts/test-env.sh) runs next
# to a developer's stack with a different var dir and different ports.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPT_NAME="$(basename "$0")"

# shellcheck source=versions.env
. "$ROOT/scripts/versions.env"

: "${CHAT_VAR_DIR:=$ROOT/var}"
# A relative var dir is taken relative to where the caller is; make it absolute
# once so later cd's (and the daemons, which all chdir) see the same path.
case "$CHAT_VAR_DIR" in
    /*) ;;
    *) CHAT_VAR_DIR="$PWD/$CHAT_VAR_DIR" ;;
esac

: "${CHAT_MYSQL_HOST:=127.0.0.1}"
: "${CHAT_MYSQL_PORT:=3307}"
: "${CHAT_MYSQL_USER:=chat}"
: "${CHAT_MYSQL_PASSWORD:=chat}"
: "${CHAT_MYSQL_DATABASE:=chat}"

: "${CHAT_REDIS_HOST:=127.0.0.1}"
: "${CHAT_REDIS_PORT:=6380}"
: "${CHAT_REDIS_APPENDFSYNC:=always}"

: "${CHAT_AMQP_HOST:=127.0.0.1}"
: "${CHAT_AMQP_PORT:=5673}"
: "${CHAT_AMQP_USER:=chat}"
: "${CHAT_AMQP_PASSWORD:=chat}"
: "${CHAT_AMQP_VHOST:=/}"

: "${CHAT_ES_URL:=http://127.0.0.1:9201}"
: "${CHAT_ES_HEAP:=512m}"

export CHAT_VAR_DIR \
    CHAT_MYSQL_HOST CHAT_MYSQL_PORT CHAT_MYSQL_USER CHAT_MYSQL_PASSWORD CHAT_MYSQL_DATABASE \
    CHAT_REDIS_HOST CHAT_REDIS_PORT CHAT_REDIS_APPENDFSYNC \
    CHAT_AMQP_HOST CHAT_AMQP_PORT CHAT_AMQP_USER CHAT_AMQP_PASSWORD CHAT_AMQP_VHOST \
    CHAT_ES_URL CHAT_ES_HEAP

# --- logging ---------------------------------------------------------------

log() { printf '[%s %s] %s\n' "$SCRIPT_NAME" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- derived settings -----------------------------------------------------

# http://host:port[/...] -> port. ES transport listens on http port + 100 so two
# stacks with different http ports never collide on transport either.
es_url_port() {
    local hostport="${CHAT_ES_URL#*://}"
    hostport="${hostport%%/*}"
    local port="${hostport##*:}"
    [[ "$port" =~ ^[0-9]+$ && "$hostport" == *:* ]] ||
        die "CHAT_ES_URL must contain an explicit port (got '$CHAT_ES_URL')"
    echo "$port"
}
CHAT_ES_HTTP_PORT="$(es_url_port)"
CHAT_ES_TRANSPORT_PORT=$((CHAT_ES_HTTP_PORT + 100))
CHAT_ES_URL="${CHAT_ES_URL%/}"

# Where install-deps.sh puts the Elasticsearch zip and the unpacked tree.
ES_ZIP="$CHAT_VAR_DIR/downloads/elasticsearch-$ES_VERSION.zip"
ES_UNPACKED="$CHAT_VAR_DIR/elasticsearch-$ES_VERSION"
ES_USER=chat-es

# --- helpers ----------------------------------------------------------------

# wait_for CMD TIMEOUT NAME
# Polls CMD (a shell command string, evaluated so it may call functions)
# every half second until it succeeds or TIMEOUT seconds have passed.
# Returns non-zero on timeout so callers can point at the right log file.
wait_for() {
    local cmd="$1" timeout="$2" name="$3"
    local deadline=$((SECONDS + timeout))
    while ! eval "$cmd" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            log "$name did not become ready within ${timeout}s"
            return 1
        fi
        sleep 0.5
    done
}

# tcp_open HOST PORT: true if something accepts TCP connections there.
tcp_open() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# read_pid PIDFILE [PATTERN]: print the pid in PIDFILE if that process is
# alive and (when PATTERN is given) its command line contains PATTERN. The
# pattern guards against a stale pid file naming a recycled pid.
read_pid() {
    local pid
    [[ -s "$1" ]] || return 1
    pid="$(<"$1")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    if [[ -n "${2:-}" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
    fi
    echo "$pid"
}

# pid_alive PIDFILE [PATTERN]: true if read_pid finds a live process.
pid_alive() { read_pid "$@" >/dev/null; }

# Run a command as root: directly if we are root, else through sudo.
as_root() {
    if ((EUID == 0)); then
        "$@"
    else
        command -v sudo >/dev/null || die "need root (or sudo) to run: $*"
        sudo "$@"
    fi
}
