# Sourced by stack.sh and cluster.sh (after common.sh): where the Elasticsearch distribution lives and
# how a node's directory is made ready for $ES_USER.

# ES runs as $ES_USER, who cannot reach a var dir under e.g. /root (mode 700). In that case its
# install and data live in a per-var-dir directory under /var/tmp instead. Sets ES_BASE and ES_HOME.
es_setup_base() {
    ES_BASE="$CHAT_VAR_DIR"
    if getent passwd "$ES_USER" >/dev/null &&
        ! runuser -u "$ES_USER" -- test -x "$CHAT_VAR_DIR" 2>/dev/null; then
        ES_BASE="/var/tmp/chat-es-$(printf '%s' "$CHAT_VAR_DIR" | sha256sum | cut -c1-10)"
    fi
    ES_HOME="$ES_BASE/elasticsearch-$ES_VERSION"
}

# ES_JAVA_HOME: explicit override, else Debian's Java 17, else the JDK of
# whatever `java` is on PATH.
es_java_home() {
    local deb17
    deb17="/usr/lib/jvm/java-17-openjdk-$(dpkg --print-architecture)"
    if [[ -n "${ES_JAVA_HOME:-}" ]]; then
        echo "$ES_JAVA_HOME"
    elif [[ -x "$deb17/bin/java" ]]; then
        echo "$deb17"
    else
        local java
        java="$(readlink -f "$(command -v java)")" || die "no java found; run scripts/install-deps.sh"
        dirname "$(dirname "$java")"
    fi
}

# Make $ES_HOME an unpacked distribution owned by $ES_USER (ES writes its keystore into config/ on
# first start).
es_install_home() {
    if ! getent passwd "$ES_USER" >/dev/null || [[ ! -f "$ES_UNPACKED/.unpacked" ]]; then
        log "elasticsearch: not installed for $CHAT_VAR_DIR yet, running install-deps.sh"
        "$ROOT/scripts/install-deps.sh"
        es_setup_base
    fi
    if [[ "$ES_BASE" != "$CHAT_VAR_DIR" ]]; then
        log "elasticsearch: $ES_USER cannot traverse $CHAT_VAR_DIR; install + data live in $ES_BASE"
        if [[ ! -f "$ES_HOME/.unpacked" ]]; then
            mkdir -p "$ES_BASE"
            rm -rf "$ES_HOME"
            cp -a "$ES_UNPACKED" "$ES_HOME"
        fi
    fi
    [[ "$(stat -c %U "$ES_HOME")" == "$ES_USER" ]] || chown -R "$ES_USER:" "$ES_HOME"
}

# es_launch DIR CONFIG_DIR HTTP_PORT STARTUP_LOG LAUNCHER_PIDFILE -E SETTING...: starts a node as
# $ES_USER in the background, data and logs in DIR, its pid in DIR/es.pid. `-d` daemonizes once the
# node has started, so the launcher exits by itself. env -i: root's environment (HOME,
# JAVA_TOOL_OPTIONS, ...) stays out. Bound to loopback, so the production bootstrap checks
# (vm.max_map_count and the like) only warn.
es_launch() {
    local dir="$1" config="$2" port="$3" startup_log="$4" launcher_pidfile="$5"
    shift 5
    (
        cd "$ES_HOME"
        exec setsid runuser -u "$ES_USER" -- env -i \
            PATH=/usr/local/bin:/usr/bin:/bin HOME="$dir" LANG=C.UTF-8 \
            ES_JAVA_HOME="$(es_java_home)" ES_JAVA_OPTS="-Xms$CHAT_ES_HEAP -Xmx$CHAT_ES_HEAP" \
            ES_PATH_CONF="$config" ES_TMPDIR="$dir/tmp" \
            "$ES_HOME/bin/elasticsearch" -d -p "$dir/es.pid" \
            -E xpack.security.enabled=false \
            -E network.host=127.0.0.1 \
            -E http.port="$port" \
            -E transport.port=$((port + 100)) \
            -E path.data="$dir/data" \
            -E path.logs="$dir/logs" \
            -E cluster.routing.allocation.disk.threshold_enabled=false \
            -E action.destructive_requires_name=false \
            "$@"
    ) >"$startup_log" 2>&1 </dev/null &
    echo $! >"$launcher_pidfile"
}

# es_prepare_dir DIR: DIR/data, DIR/logs and an empty DIR/tmp, owned by $ES_USER.
es_prepare_dir() {
    local dir="$1" d
    # ES_TMPDIR: otherwise every start leaves a /tmp/elasticsearch-* dir.
    rm -rf "$dir/tmp"
    mkdir -p "$dir/data" "$dir/logs" "$dir/tmp"
    # Only chown when needed: the data dir can get big. Each dir is checked, since `wipe` deletes the
    # data dir alone and mkdir above recreates it owned by root.
    for d in "$dir" "$dir/data" "$dir/logs"; do
        [[ "$(stat -c %U "$d")" == "$ES_USER" ]] || chown -R "$ES_USER:" "$d"
    done
    chown "$ES_USER:" "$dir/tmp"
}
