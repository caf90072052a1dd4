# syntax=docker/dockerfile:1
# One image for the three binaries: chat_api_server, chat_worker, chat_ctl.
#   docker build -t chat .
#   docker run --rm chat api | worker | ctl reindex ...      (see deploy/entrypoint.sh)
# Configuration is the CHAT_* environment only (README "Configuration"); docker-compose.yml sets it.

# ---- build ---------------------------------------------------------------------------------------
FROM debian:bookworm AS build

# Exactly what CMakeLists.txt's find_package / pkg_check_modules ask for, nothing for tests/bench:
#  - Boost: headers (Asio, Beast; JSON and URL are compiled from their headers by
#    src/core/boost_src.cpp) and the CMake config + library of find_package(Boost COMPONENTS system);
#  - hiredis, rabbitmq-c, MariaDB Connector/C (also talks to MySQL 8), libcurl (OpenSSL flavour),
#    spdlog + fmt, prometheus-cpp (metrics), ICU (icu-uc: Unicode properties for the input rules).
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        g++ cmake ninja-build pkg-config \
        libboost1.81-dev libboost-system1.81-dev \
        libhiredis-dev librabbitmq-dev libmariadb-dev libcurl4-openssl-dev \
        libspdlog-dev libfmt-dev prometheus-cpp-dev libicu-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY CMakeLists.txt ./
COPY src ./src
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCHAT_BUILD_TESTS=OFF -DCHAT_BUILD_BENCH=OFF \
    && cmake --build build \
    && install -D -m 0755 -t /out/bin build/chat_api_server build/chat_worker build/chat_ctl

# The runtime packages are derived from the binaries instead of kept by hand: every library a binary
# names as NEEDED, mapped to the Debian package that ships it. On bookworm today that is libc6,
# libcurl4, libfmt9, libgcc-s1, libhiredis0.14, libicu72, libmariadb3, libprometheus-cpp-core1.0,
# libprometheus-cpp-pull1.0, librabbitmq4, libspdlog1.10, libstdc++6 (no Boost library: Boost.System
# is header-only in 1.81 and the linker drops it). A library added to CMakeLists.txt later is
# picked up without editing this.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN for b in /out/bin/*; do readelf -d "$b"; done \
        | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u \
        | while read -r lib; do \
            dpkg -S "*/$lib" | sed -n 1p | cut -d: -f1 | grep . \
                || { echo "no Debian package ships $lib" >&2; exit 1; }; \
          done \
        | sort -u >/out/runtime-packages \
    && cat /out/runtime-packages

# ---- runtime -------------------------------------------------------------------------------------
FROM debian:bookworm-slim

# curl: for the container healthcheck (GET /healthz); it shares libcurl4 with the binaries.
# libmariadb3 also brings its client plugins (caching_sha2_password, MySQL 8's default).
# hadolint ignore=DL3008
COPY --from=build /out/runtime-packages /tmp/runtime-packages
RUN apt-get update \
    && xargs -a /tmp/runtime-packages \
        env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages

COPY --from=build /out/bin/ /usr/local/bin/
COPY db/migrations/ /opt/chat/db/migrations/
COPY deploy/entrypoint.sh /usr/local/bin/chat-entrypoint

# Fail the build, not the first start, if a shared library is missing.
RUN ldd /usr/local/bin/chat_api_server /usr/local/bin/chat_worker /usr/local/bin/chat_ctl >/tmp/ldd.txt \
    && ! grep -F 'not found' /tmp/ldd.txt \
    && rm /tmp/ldd.txt \
    && groupadd --gid 10001 chat \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin chat

WORKDIR /opt/chat
USER 10001:10001
EXPOSE 8080
# No HEALTHCHECK here: api and worker answer on different ports and paths; docker-compose.yml
# gives each its own (api: GET :8080/healthz, worker: GET :9464/metrics).
ENTRYPOINT ["/usr/local/bin/chat-entrypoint"]
CMD ["api"]
