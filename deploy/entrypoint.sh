#!/bin/sh
# Entrypoint of the chat image: the first argument selects the binary, the rest are its arguments.
#   api      -> chat_api_server   (the default CMD)
#   worker   -> chat_worker
#   ctl ...  -> chat_ctl ...      e.g. `docker compose run --rm api ctl reindex`
# Anything else runs as given (e.g. `sh` for a shell). `exec` keeps the binary as PID 1, so
# SIGTERM from `docker stop` reaches it directly and it shuts down cleanly.
set -eu
cmd="${1:-api}"
[ "$#" -gt 0 ] && shift
case "$cmd" in
    api) exec /usr/local/bin/chat_api_server "$@" ;;
    worker) exec /usr/local/bin/chat_worker "$@" ;;
    ctl) exec /usr/local/bin/chat_ctl "$@" ;;
    *) exec "$cmd" "$@" ;;
esac
