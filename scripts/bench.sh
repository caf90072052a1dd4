#!/usr/bin/env bash
# `make bench`: builds Release, starts the local stack, then bench/bench.py measures the HTTP and Redis
# ceilings, the peak rates at p99 < 10 ms, closed-loop throughput, the worker's drain rate, search and
# the micro-benchmarks, and writes docs/benchmarks.md from docs/bench-results/*.json.
# It runs on a stack of its own (scripts/test-env.sh bench), emptied at the start: a run's figures must
# not depend on what earlier runs or a developer's `make run` left in the databases.
. "$(dirname "$0")/common.sh"
eval "$("$ROOT/scripts/test-env.sh" bench)"
. "$ROOT/scripts/common.sh"  # re-derive settings for the benchmark's stack

BUILD="$ROOT/build/release"

cleanup() {
    "$ROOT/scripts/cluster.sh" down || true  # the cluster step's engines (bench.py starts them)
    "$ROOT/scripts/stack.sh" down || true
}
trap cleanup EXIT
"$ROOT/scripts/stack.sh" wipe
"$ROOT/scripts/stack.sh" up
"$ROOT/scripts/migrate.sh"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCHAT_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD"
BENCH_STACK=emptied BENCH_BUILD="$BUILD" python3 "$ROOT/bench/bench.py"
