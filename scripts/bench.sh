#!/usr/bin/env bash
# `make bench`: micro-benchmarks of the pure request-path code, then HTTP load (wrk) against a
# Release API server and worker on the local stack. Prints throughput and latency percentiles.
. "$(dirname "$0")/common.sh"

DURATION="${BENCH_DURATION:-15s}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
PORT="${BENCH_PORT:-18190}"
BUILD="$ROOT/build/release"

command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null || die "wrk is missing"; }
"$ROOT/scripts/stack.sh" up
"$ROOT/scripts/migrate.sh"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCHAT_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD"

log "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r)"
log "micro-benchmarks"
"$BUILD/bench/micro_bench" --benchmark_min_time=0.2

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
CHAT_HTTP_PORT=$PORT CHAT_LOG_LEVEL=warn CHAT_RATE_LIMIT_RPS=0 "$BUILD/chat_api_server" & pids+=($!)
CHAT_LOG_LEVEL=warn "$BUILD/chat_worker" & pids+=($!)
wait_for "curl -fs http://127.0.0.1:$PORT/readyz" 60 "API server"

base="http://127.0.0.1:$PORT/api/v1/apps"
token=$(curl -fs -XPOST "$base" -H 'Content-Type: application/json' -d '{"name":"bench"}' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
curl -fs -XPOST "$base/$token/chats" >/dev/null

log "POST message: $CONNECTIONS connections, $DURATION"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$ROOT/bench/wrk/create_message.lua" "$base/$token/chats/1/messages"
log "POST chat: $CONNECTIONS connections, $DURATION"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$ROOT/bench/wrk/create_chat.lua" "$base/$token/chats"
log "GET message by number: $CONNECTIONS connections, $DURATION"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$base/$token/chats/1/messages/1"
log "search: ${BENCH_MESSAGES:-1000000} generated messages over ${BENCH_CHATS:-2000} chats (index bench_messages)"
"$BUILD/bench/search_bench"
log "done"
