#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (ASan+UBSan) in build/fuzz and runs each for
# SECONDS (default 30) over its committed seed corpus, fuzz/corpus/<name>. `make test-all` runs them
# briefly, `make fuzz` long (FUZZ_SECONDS=600 by default there); `make test` only replays the corpora
# (fuzz/replay_main.cpp, in its sanitized build).
#
# New inputs go to var/fuzz/corpus/<name> (kept between runs, never committed); a crash, leak or
# sanitizer report fails the run and leaves its input in var/fuzz/artifacts/. Turn a crash into a
# regression test: add the input to fuzz/corpus/<name>/ (every run replays the corpus) and a unit
# test for the defect.
. "$(dirname "$0")/common.sh"

SECONDS_EACH="${1:-30}"
BUILD="$ROOT/build/fuzz"
OUT="$ROOT/var/fuzz"
TARGETS=(http_request validation search_query event_decode elastic_answer ws_frame)

command -v clang++ >/dev/null || die "clang++ is missing (scripts/install-deps.sh installs clang)"
log "building the fuzz targets (clang, ASan+UBSan) in $BUILD"
# -O1 -g1: what libFuzzer's documentation builds with; a quarter less compile time than -O2 -g.
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" \
    -DCMAKE_CXX_COMPILER=clang++ -DCHAT_FUZZ=ON -DCHAT_BUILD_TESTS=OFF -DCHAT_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" --target "${TARGETS[@]/#/fuzz_}"

mkdir -p "$OUT/artifacts"
failed=()
for t in "${TARGETS[@]}"; do
    mkdir -p "$OUT/corpus/$t"
    log "fuzzing $t for ${SECONDS_EACH}s"
    # detect_leaks=0 for the HTTP target only: its server lives for the process and libFuzzer exits
    # without unwinding it; the other targets run with leak detection.
    leaks=1
    [[ "$t" == http_request ]] && leaks=0
    if ! ASAN_OPTIONS="detect_leaks=$leaks:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        "$BUILD/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t-" \
        "$OUT/corpus/$t" "$ROOT/fuzz/corpus/$t" >"$OUT/$t.log" 2>&1; then
        tail -n 60 "$OUT/$t.log" >&2
        failed+=("$t")
        continue
    fi
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$OUT/$t.log" | tr '\n' ' ' >&2
    echo >&2
done
if ((${#failed[@]})); then
    die "fuzz targets failed: ${failed[*]} (inputs in $OUT/artifacts, logs in $OUT/*.log)"
fi
log "fuzz targets passed: ${TARGETS[*]}"
