#!/usr/bin/env bash
# One-shot migration runner of docker-compose.yml (service `migrate`, image mysql:8).
#
# Same rules as scripts/migrate.sh, so a database migrated by either one is up to date for the other:
#  - the files are $MIGRATIONS_DIR/NNN_*.sql, applied in byte order; two files sharing NNN is an error;
#  - each applied file name is recorded in schema_migrations, so a re-run applies only new files;
#  - a file and its schema_migrations row go through one client session in batch mode, which stops
#    at the first failing statement: a broken migration is reported (non-zero exit, so api and
#    worker do not start) and not recorded. MySQL DDL auto-commits: fix forward with a new file.
#
# It needs only bash and the `mysql` client of the mysql:8 image (no flock/find/grep there). It is
# not meant to run twice at once against one database: compose starts one `migrate` container.
set -euo pipefail
export LC_ALL=C # byte order for the glob below, like scripts/migrate.sh's `LC_ALL=C sort`

dir="${MIGRATIONS_DIR:-/migrations}"
: "${CHAT_MYSQL_HOST:?}" "${CHAT_MYSQL_PORT:?}" "${CHAT_MYSQL_USER:?}" "${CHAT_MYSQL_DATABASE:?}"
pw="${CHAT_MYSQL_PASSWORD-}"

log() { printf '[migrate] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

# The password goes through an option file, not the command line (visible in ps) nor MYSQL_PWD
# (deprecated by MySQL 8). Option-file values are double-quoted with \ and " escaped.
umask 077
cnf="/tmp/chat-migrate.$$.cnf" # the container is private and one-shot
trap 'rm -f "$cnf"' EXIT
pw="${pw//\\/\\\\}"
pw="${pw//\"/\\\"}"
printf '[client]\nhost=%s\nport=%s\nuser=%s\npassword="%s"\n' \
    "$CHAT_MYSQL_HOST" "$CHAT_MYSQL_PORT" "$CHAT_MYSQL_USER" "$pw" >"$cnf"

db() {
    mysql --defaults-extra-file="$cnf" --protocol=TCP --default-character-set=utf8mb4 \
        --batch --skip-column-names "$CHAT_MYSQL_DATABASE" "$@"
}

sql_str() { printf "'%s'" "${1//\'/\'\'}"; }

# compose waits for the mysql healthcheck already; this covers a manual `docker compose run migrate`.
for ((i = 0; ; i++)); do
    db -e 'SELECT 1' >/dev/null 2>&1 && break
    ((i < 60)) || die "cannot reach MySQL at $CHAT_MYSQL_HOST:$CHAT_MYSQL_PORT as $CHAT_MYSQL_USER"
    sleep 1
done

db -e 'CREATE TABLE IF NOT EXISTS schema_migrations (
           version VARCHAR(255) PRIMARY KEY,
           applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)'

shopt -s nullglob
files=("$dir"/[0-9][0-9][0-9]_*.sql)
declare -A seen=()
for f in "${files[@]}"; do
    n="${f##*/}"
    n="${n:0:3}"
    [[ -z "${seen[$n]-}" ]] || die "two migrations numbered $n in $dir"
    seen[$n]=1
done

applied=$'\n'"$(db -e 'SELECT version FROM schema_migrations')"$'\n'
count=0
for f in "${files[@]}"; do
    name="${f##*/}"
    [[ "$applied" == *$'\n'"$name"$'\n'* ]] && continue
    log "applying $name"
    # The newline + ';' keep a last statement without terminator from swallowing the INSERT (an
    # empty statement is ignored in batch mode).
    if ! { cat "$f"; printf '\n;\nINSERT INTO schema_migrations (version) VALUES (%s);\n' "$(sql_str "$name")"; } | db; then
        die "migration $name failed; it was not recorded (fix it and re-run)"
    fi
    count=$((count + 1))
done
log "database $CHAT_MYSQL_DATABASE up to date (${#files[@]} migrations, $count applied now)"
