#!/usr/bin/env bash
# Applies db/migrations/NNN_*.sql in order to $CHAT_MYSQL_DATABASE, over TCP
# as the app user (like the backend connects). Each applied file name is
# recorded in schema_migrations, so re-running only applies new files.
#
# A file and its schema_migrations row go through one client session that
# stops at the first failing statement: a broken migration is reported and
# not recorded. (MariaDB DDL auto-commits, so fix forward: write the next
# file, or repair by hand, rather than expecting a rollback.)
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Overridable so tests can point at their own fixtures.
MIGRATIONS_DIR="${CHAT_MIGRATIONS_DIR:-$ROOT/db/migrations}"

db() {
    MYSQL_PWD="$CHAT_MYSQL_PASSWORD" mariadb --no-defaults --protocol=TCP \
        -h "$CHAT_MYSQL_HOST" -P "$CHAT_MYSQL_PORT" -u "$CHAT_MYSQL_USER" \
        --default-character-set=utf8mb4 --batch --skip-column-names \
        "$CHAT_MYSQL_DATABASE" "$@"
}

sql_str() { printf "'%s'" "${1//\'/\'\'}"; }

# MIGRATION_FILES: file names in apply order. NNN must be unique: two files
# sharing a number would be applied in an order nobody chose.
list_migrations() {
    mapfile -t MIGRATION_FILES < <(find "$MIGRATIONS_DIR" -maxdepth 1 -type f \
        -name '[0-9][0-9][0-9]_*.sql' -printf '%f\n' | LC_ALL=C sort)
    local dup
    dup="$(printf '%s\n' "${MIGRATION_FILES[@]}" | cut -c1-3 | uniq -d | head -n1)"
    [[ -z "$dup" ]] || die "two migrations numbered $dup in $MIGRATIONS_DIR"
}

main() {
    mkdir -p "$MIGRATIONS_DIR" "$CHAT_VAR_DIR/run"
    # Two migrate runs against the same stack at once would race on the
    # same file; serialise them.
    exec 9>"$CHAT_VAR_DIR/run/migrate.lock"
    flock 9

    db -e 'SELECT 1' >/dev/null ||
        die "cannot reach MariaDB at $CHAT_MYSQL_HOST:$CHAT_MYSQL_PORT as $CHAT_MYSQL_USER (is the stack up? scripts/stack.sh up)"
    db -e 'CREATE TABLE IF NOT EXISTS schema_migrations (
               version VARCHAR(255) PRIMARY KEY,
               applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)'

    local applied file count=0
    list_migrations
    applied="$(db -e 'SELECT version FROM schema_migrations')"
    for file in "${MIGRATION_FILES[@]}"; do
        grep -qxF -- "$file" <<<"$applied" && continue
        log "applying $file"
        # The trailing newline + ';' guard a file whose last statement lacks
        # a terminator from swallowing the INSERT.
        if ! { cat "$MIGRATIONS_DIR/$file"; printf '\n;\nINSERT INTO schema_migrations (version) VALUES (%s);\n' "$(sql_str "$file")"; } | db; then
            die "migration $file failed; it was not recorded (fix it and re-run)"
        fi
        count=$((count + 1))
    done

    log "database $CHAT_MYSQL_DATABASE up to date ($count applied now)"
}

main "$@"
