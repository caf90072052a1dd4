#!/usr/bin/env bash
# `make test`: unit and integration tests, in a plain debug build and in an ASan+UBSan build, against a
# test stack of real servers (its own data dir and ports, so it can run beside `make run`).
. "$(dirname "$0")/common.sh"
eval "$("$ROOT/scripts/test-env.sh")"
. "$ROOT/scripts/common.sh"  # re-derive settings for the test stack

cleanup() { "$ROOT/scripts/stack.sh" down || true; }
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
