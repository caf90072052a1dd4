#!/usr/bin/env bash
# Installs everything needed to build the backend and run its service stack
# on Debian 12 (bookworm): apt packages, the unprivileged `chat-es` user
# Elasticsearch runs as, and the pinned Elasticsearch distribution under
# $CHAT_VAR_DIR.
#
# Idempotent and quick when everything is already there: apt is only touched
# when a package is missing, downloads only when the zip is missing.
# Runs as root; as another user it uses sudo for the steps that need root.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PACKAGES=(
    # build toolchain
    build-essential cmake ninja-build pkg-config git clang-format
    # a compiler cache: a second make test compiles almost nothing (CMakeLists.txt, CHAT_CCACHE)
    ccache
    # libFuzzer (scripts/fuzz.sh): clang and its fuzzer/sanitizer runtimes
    clang libclang-rt-14-dev
    # C++ libraries
    libboost1.81-all-dev libhiredis-dev librabbitmq-dev libmariadb-dev
    libcurl4-openssl-dev libspdlog-dev libfmt-dev prometheus-cpp-dev
    libgtest-dev libgmock-dev libbenchmark-dev libicu-dev
    # user tokens (JWT, HS256) and the hashes and HMACs of application secrets
    libjwt-dev libssl-dev
    # services we run ourselves (scripts/stack.sh), never as system daemons
    mariadb-server mariadb-client redis-server redis-tools rabbitmq-server
    # Elasticsearch runtime + the Maven client that fetches it
    openjdk-17-jdk-headless maven ca-certificates unzip
    # used by the scripts and tests (jsonschema: responses checked against src/api/openapi.json)
    curl python3 python3-jsonschema python3-jwt python3-pip procps iproute2
    # the demo page's browser test (tests/browser): headless Chromium driven by Selenium
    chromium chromium-driver python3-selenium
)

missing_packages() {
    local pkg
    for pkg in "${PACKAGES[@]}"; do
        # dpkg-query fails for never-seen packages; "deinstall ..." or
        # "half-installed" states also count as missing.
        if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]]; then
            echo "$pkg"
        fi
    done
}

install_packages() {
    local missing
    mapfile -t missing < <(missing_packages)
    if ((${#missing[@]} == 0)); then
        log "all ${#PACKAGES[@]} apt packages present"
        return
    fi
    log "installing missing packages: ${missing[*]}"
    # Package post-install scripts may try to start the *system* mariadb/
    # redis/rabbitmq; harmless either way: our stack uses its own ports and
    # data dirs.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

ensure_es_user() {
    if getent passwd "$ES_USER" >/dev/null; then
        return
    fi
    log "creating system user $ES_USER"
    # Elasticsearch refuses to run as root, so it gets its own locked-down user.
    as_root useradd --system --user-group --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin "$ES_USER"
}

fetch_es_zip() {
    if [[ -s "$ES_ZIP" ]]; then
        return
    fi
    local dir tmp
    dir="$(dirname "$ES_ZIP")"
    mkdir -p "$dir"
    # Download into a scratch dir and move into place at the end, so an
    # interrupted download never looks like a finished one.
    tmp="$(mktemp -d "$dir/.mvn.XXXXXX")"
    log "downloading Elasticsearch $ES_VERSION from Maven Central"
    # Maven's output goes to a log (bookworm's mvn prints stray colour codes
    # even in batch mode) that is shown only on failure.
    if ! mvn -q -B dependency:copy \
        -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
        -DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
        cat "$tmp.log" >&2
        rm -rf "$tmp" "$tmp.log"
        die "maven could not fetch elasticsearch $ES_VERSION"
    fi
    rm -f "$tmp.log"
    mv "$tmp/elasticsearch-$ES_VERSION.zip" "$ES_ZIP"
    rm -rf "$tmp"
}

unpack_es() {
    # bin/elasticsearch is the last thing we check for: a partial unzip is
    # redone from scratch.
    if [[ -x "$ES_UNPACKED/bin/elasticsearch" && -f "$ES_UNPACKED/.unpacked" ]]; then
        return
    fi
    log "unpacking Elasticsearch into $ES_UNPACKED"
    rm -rf "$ES_UNPACKED" "$ES_UNPACKED.tmp"
    mkdir -p "$ES_UNPACKED.tmp"
    unzip -q "$ES_ZIP" -d "$ES_UNPACKED.tmp"
    mv "$ES_UNPACKED.tmp/elasticsearch-$ES_VERSION" "$ES_UNPACKED"
    rmdir "$ES_UNPACKED.tmp"
    touch "$ES_UNPACKED/.unpacked"
}

# The reference verifier of Standard Webhooks (tests/integration/test_webhooks.py checks our signatures
# with it) is not a Debian package: pip puts it (pure Python, no dependencies) into var/pylib, which
# scripts/test.sh adds to PYTHONPATH.
PYLIB="$ROOT/var/pylib"
STANDARDWEBHOOKS_VERSION=1.3.0
install_python_test_deps() {
    [[ -d "$PYLIB/standardwebhooks-$STANDARDWEBHOOKS_VERSION.dist-info" ]] && return
    log "installing standardwebhooks $STANDARDWEBHOOKS_VERSION into $PYLIB"
    "${CHAT_TEST_PYTHON:-/usr/bin/python3}" -m pip install --quiet --disable-pip-version-check \
        --root-user-action=ignore --no-deps --upgrade --target "$PYLIB" \
        "standardwebhooks==$STANDARDWEBHOOKS_VERSION" || die "pip could not install standardwebhooks"
}

main() {
    install_packages
    install_python_test_deps
    ensure_es_user
    fetch_es_zip
    unpack_es
    log "dependencies ready (Elasticsearch $ES_VERSION in $ES_UNPACKED)"
}

main "$@"
