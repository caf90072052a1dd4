#!/usr/bin/env bash
# Runs the API server and one worker in the foreground against the stack of `make up`.
# Ctrl-C (or SIGTERM) stops both, then the stack.
. "$(dirname "$0")/common.sh"

BUILD_DIR="${1:-$ROOT/build/release}"
pids=()

stop_all() {
    trap - INT TERM EXIT
    log "stopping API server and worker"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    "$ROOT/scripts/stack.sh" down
}
trap stop_all INT TERM EXIT

"$BUILD_DIR/chat_worker" &
pids+=($!)
"$BUILD_DIR/chat_api_server" &
pids+=($!)
log "API on http://127.0.0.1:${CHAT_HTTP_PORT:-8080} (worker pid ${pids[0]}, API pid ${pids[1]}); Ctrl-C stops everything"
# Returns as soon as either process ends; then the trap stops the other and the stack.
wait -n "${pids[@]}"
