#!/usr/bin/env bash
# `make bench`: builds Release, starts the local stack, then bench/bench.py measures the HTTP and Redis
# ceilings, the peak rates at p99 < 10 ms, closed-loop throughput, the worker's drain rate, search and
# the micro-benchmarks, and writes docs/benchmarks.md from docs/bench-results/*.json.
. "$(dirname "$0")/common.sh"

BUILD="$ROOT/build/release"

"$ROOT/scripts/stack.sh" up
"$ROOT/scripts/migrate.sh"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCHAT_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD"
BENCH_BUILD="$BUILD" python3 "$ROOT/bench/bench.py"
