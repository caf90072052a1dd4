# Two commands on a fresh Debian 12 machine: `make run` and `make test`. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

RELEASE_DIR := build/release

.PHONY: help deps build up down status migrate run test test-all drill fuzz unit bench format clean cluster-up cluster-down cluster-status cluster-drill

help:
	@echo "make run     install what is missing, start the stack, build, serve the API on :8080 (Ctrl-C stops all)"
	@echo "make test    before every commit (<= 15 min): ASan+UBSan build, unit, integration, browser, fuzz corpora"
	@echo "make test-all what CI runs (<= 45 min): make test, then TSan, the cluster modules, the fault drills, fuzzing"
	@echo "make up      start MariaDB, Redis, RabbitMQ, Elasticsearch in the background (and migrate)"
	@echo "make down    stop them"
	@echo "make cluster-up    the service on a Redis Cluster, a RabbitMQ cluster, a MariaDB primary + replica, an Elasticsearch cluster; API on :8080, :8081"
	@echo "make cluster-down  stop those servers and the clusters (data kept under var/cluster)"
	@echo "make cluster-drill long cluster drills under load: SIGKILL a Redis master, the RabbitMQ queue leader, the Elasticsearch master; stop the MariaDB replica"
	@echo "make drill   long fault drills under load, verified by chat_load (make test-all runs shorter ones)"
	@echo "make fuzz    the libFuzzer targets, FUZZ_SECONDS each (default 600; make test-all runs them briefly)"
	@echo "make bench   benchmarks; writes docs/benchmarks.md"

deps:
	scripts/install-deps.sh

build: deps
	cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCHAT_BUILD_TESTS=OFF >/dev/null
	cmake --build $(RELEASE_DIR)

up: deps
	scripts/stack.sh up
	scripts/migrate.sh

down:
	scripts/stack.sh down

status:
	scripts/stack.sh status

cluster-up: up build
	scripts/cluster.sh up
	scripts/cluster.sh servers-up $(RELEASE_DIR)

cluster-down:
	scripts/cluster.sh down

cluster-status:
	scripts/cluster.sh status

cluster-drill: deps
	scripts/drill.sh cluster

migrate:
	scripts/migrate.sh

run: up build
	scripts/run.sh $(RELEASE_DIR)

# Both install what is missing themselves (their first stage), so the table at the end shows its cost.
test:
	scripts/test.sh

test-all:
	scripts/test.sh --all

drill: deps
	scripts/drill.sh

FUZZ_SECONDS ?= 600
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

bench: deps
	scripts/bench.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build
