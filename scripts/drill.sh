#!/usr/bin/env bash
# `make drill`: the long fault drills. During a minute of load through two API servers and two workers,
# one fault at a time (SIGKILL a worker, SIGKILL an API server, restart RabbitMQ, MariaDB, Redis, stop
# Elasticsearch for 30 s); chat_load then verifies in MariaDB and Elasticsearch that nothing
# acknowledged was lost or duplicated. `make test` runs the same drills, shorter.
# `scripts/drill.sh cluster` (`make cluster-drill`) runs the cluster drills instead, as long: SIGKILL a
# Redis Cluster master (its replica takes over), the broker leading the quorum queue of a RabbitMQ
# cluster and the elected master of an Elasticsearch cluster, each restarted; stop the MariaDB replica
# for a while.
. "$(dirname "$0")/common.sh"
eval "$("$ROOT/scripts/test-env.sh")"
. "$ROOT/scripts/common.sh"  # re-derive settings for the test stack

cleanup() {
    "$ROOT/scripts/cluster.sh" down || true
    "$ROOT/scripts/stack.sh" down || true
}
trap cleanup EXIT

"$ROOT/scripts/stack.sh" up
"$ROOT/scripts/migrate.sh"
BUILD="$ROOT/build/debug"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$BUILD"
cd "$ROOT/tests/integration"
CHAT_DRILL_SECONDS="${CHAT_DRILL_SECONDS:-60}" CHAT_DRILL_ES_DOWN_S="${CHAT_DRILL_ES_DOWN_S:-30}" \
    CHAT_API_BIN="$BUILD/chat_api_server" CHAT_WORKER_BIN="$BUILD/chat_worker" CHAT_CTL_BIN="$BUILD/chat_ctl" \
    CHAT_LOAD_BIN="$BUILD/bench/load/chat_load" \
    python3 -W ignore::ResourceWarning -m unittest -v \
    $([[ "${1:-}" == cluster ]] && echo test_redis_cluster test_rabbitmq_cluster test_mysql_replica test_es_cluster || echo test_drills)
log "drills passed; reports in $CHAT_VAR_DIR/log/tests/drill-*.json"
