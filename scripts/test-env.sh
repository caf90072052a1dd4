#!/usr/bin/env bash
# Prints `export` lines for the test stack, which runs next to a developer's
# default stack with its own var dir and ports:
#   eval "$(scripts/test-env.sh)"
# `scripts/test-env.sh bench` prints those of the benchmark's stack (make bench); `dev1`..`dev3`
# are spare stacks for developers working in parallel (one per git worktree, say).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

emit() { printf 'export %s=%q\n' "$1" "$2"; }

# RabbitMQ also takes its AMQP port + 20000 (to + 20010) for Erlang distribution: the default
# stack's 5673 holds 25673-25683, the test stack's 15673 holds 35673-35683.
case "${1:-test}" in
    test) set -- test 13307 16380 15673 19201 ;;
    bench) set -- bench 23307 26380 15693 29201 ;;
    dev1) set -- dev1 33307 36380 15713 39201 ;;
    dev2) set -- dev2 43307 46380 15733 49201 ;;
    dev3) set -- dev3 53307 56380 15753 59201 ;;
    *) echo "usage: $0 [test|bench|dev1|dev2|dev3]" >&2; exit 2 ;;
esac
emit CHAT_VAR_DIR "$ROOT/var/$1"
emit CHAT_MYSQL_PORT "$2"
emit CHAT_REDIS_PORT "$3"
emit CHAT_AMQP_PORT "$4"
emit CHAT_ES_URL "http://127.0.0.1:$5"
