#!/usr/bin/env bash
# Prints `export` lines for the test stack, which runs next to a developer's
# default stack with its own var dir and ports:
#   eval "$(scripts/test-env.sh)"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

emit() { printf 'export %s=%q\n' "$1" "$2"; }

emit CHAT_VAR_DIR "$ROOT/var/test"
emit CHAT_MYSQL_PORT 13307
emit CHAT_REDIS_PORT 16380
emit CHAT_AMQP_PORT 15673
emit CHAT_ES_URL "http://127.0.0.1:19201"
