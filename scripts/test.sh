#!/usr/bin/env bash
# `make test`: unit, integration and browser tests (the demo page in headless Chromium), in a plain debug
# build and in an ASan+UBSan build, against a test stack of real servers (its own data dir and ports, so it
# can run beside `make run`).
. "$(dirname "$0")/common.sh"
# CHAT_TEST_STACK picks another stack of test-env.sh (dev1..dev3) so two checkouts can test at once.
eval "$("$ROOT/scripts/test-env.sh" "${CHAT_TEST_STACK:-test}")"
. "$ROOT/scripts/common.sh"  # re-derive settings for the test stack

# The cluster modules (test_redis_cluster, test_rabbitmq_cluster, test_mysql_replica, test_es_cluster)
# start their engines beside the stack with scripts/cluster.sh and stop them; this stops them too when
# a run is interrupted.
cleanup() {
    "$ROOT/scripts/cluster.sh" down || true
    "$ROOT/scripts/stack.sh" down || true
}
trap cleanup EXIT

"$ROOT/scripts/stack.sh" up
"$ROOT/scripts/migrate.sh"

run_suite() {
    local dir="$1"; shift
    log "building $dir ($*)"
    cmake -S "$ROOT" -B "$ROOT/$dir" -G Ninja "$@" >/dev/null
    cmake --build "$ROOT/$dir"
    log "running tests of $dir"
    (cd "$ROOT/$dir" && ctest --output-on-failure)
}

run_suite build/debug -DCMAKE_BUILD_TYPE=Debug
# detect_leaks=0: hiredis/libmariadb keep process-lifetime allocations in their thread-local
# connections; ASan still catches every use-after-free, overflow and UB.
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHAT_SANITIZE=ON -DCHAT_BUILD_BENCH=OFF

# ThreadSanitizer for the concurrent parts: the unit tests, and the integration modules that drive
# many requests through several servers and workers at once (group commit, strands, blocking pool,
# worker retries, graceful drain).
log "building build/tsan (-DCHAT_TSAN=ON)"
cmake -S "$ROOT" -B "$ROOT/build/tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHAT_TSAN=ON \
    -DCHAT_BUILD_BENCH=OFF >/dev/null
cmake --build "$ROOT/build/tsan"
log "running the concurrent tests under TSan"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
"$ROOT/build/tsan/tests/unit_tests"
(cd "$ROOT/tests/integration" &&
    CHAT_API_BIN="$ROOT/build/tsan/chat_api_server" CHAT_WORKER_BIN="$ROOT/build/tsan/chat_worker" \
    CHAT_CTL_BIN="$ROOT/build/tsan/chat_ctl" CHAT_LOAD_BIN="$ROOT/build/debug/bench/load/chat_load" \
    python3 -W ignore::ResourceWarning -m unittest -v test_cluster test_ops test_live test_redis_cluster)
# libFuzzer targets (clang, ASan+UBSan) over their seed corpora, briefly: `make fuzz` runs them long.
"$ROOT/scripts/fuzz.sh" "${CHAT_TEST_FUZZ_SECONDS:-20}"
log "all suites passed"
