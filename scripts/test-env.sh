#!/usr/bin/env bash
# Prints `export` lines for the test stack, which runs next to a developer's
# default stack with its own var dir and ports:
#   eval "$(scripts/test-env.sh)"
# `scripts/test-env.sh bench` prints those of the benchmark's stack (make bench).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

emit() { printf 'export %s=%q\n' "$1" "$2"; }

case "${1:-test}" in
    test) name=test prefix=1 ;;
    bench) name=bench prefix=2 ;;
    *) echo "usage: $0 [test|bench]" >&2; exit 2 ;;
esac
emit CHAT_VAR_DIR "$ROOT/var/$name"
emit CHAT_MYSQL_PORT "${prefix}3307"
emit CHAT_REDIS_PORT "${prefix}6380"
emit CHAT_AMQP_PORT "${prefix}5673"
emit CHAT_ES_URL "http://127.0.0.1:${prefix}9201"
