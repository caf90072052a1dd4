#!/usr/bin/env python3
"""`make bench`: measures the service on the local stack and writes docs/benchmarks.md from the results.

Run by scripts/bench.sh after it built the Release binaries and started the stack. Steps:
  1. ceilings of this machine: a fixed-answer HTTP server (bench/ceiling_server) under the same load
     tool, and Redis alone (redis-benchmark);
  2. the highest open-loop rate of message creation, and of reads by number, whose p99 stays under
     10 ms (the rate doubles until the target is missed, then is bisected);
  3. closed-loop throughput at 64 connections per operation, as a fraction of the HTTP ceiling;
  4. the worker's drain rate into MariaDB and into Elasticsearch (a backlog queued while no worker
     runs, then one worker started);
  5. the search benchmark and the micro-benchmarks;
  6. live delivery (bench/live_bench): 10,000 SSE streams held by one API server (memory per stream,
     all open at once per chat_live_streams_open, a message per chat reaching every stream), then the
     delivery lag from the 201 to the event with 1,000 subscribers over 2 API servers while messages are
     created at a steady rate through both. BENCH_ONLY_LIVE=1 runs this step alone;
  7. message creation on the cluster stack (scripts/cluster.sh) beside the single-node stack: closed
     loop in interleaved rounds and open loop at fixed rates, with the ratios cluster / single.
     BENCH_ONLY_CLUSTER=1 runs this step alone, BENCH_SKIP_CLUSTER=1 skips it.
The results go to docs/bench-results/<time>.json; docs/benchmarks.md is regenerated from every
result file there (latest in full, earlier ones as a comparison table). Nothing in it is typed by hand.
"""
import datetime
import glob
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("BENCH_BUILD", os.path.join(ROOT, "build", "release"))
RESULTS = os.path.join(ROOT, "docs", "bench-results")
STEP = os.environ.get("BENCH_STEP_DURATION", "10s")
CLOSED = os.environ.get("BENCH_DURATION", "15s")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
API_PORT = int(os.environ.get("BENCH_PORT", "18190"))
CEILING_PORT = API_PORT + 9
WORKER_METRICS_PORT = API_PORT + 8
LIVE_API_PORTS = [API_PORT + 20, API_PORT + 21]
LIVE_WORKER_METRICS_PORT = API_PORT + 28
P99_TARGET_MS = 10.0

LOAD = os.path.join(BUILD, "bench", "load", "chat_load")


def log(msg):
    print(f"[bench {datetime.datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return {"cores": os.cpu_count(), "memory_gib": round(mem_kib / 1024 / 1024, 1), "cpu": model,
            "kernel": os.uname().release, "commit": commit,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def settings():
    keys = ["CHAT_HTTP_THREADS", "CHAT_BLOCKING_THREADS", "CHAT_PUBLISHER_CONNECTIONS", "CHAT_BATCH_SIZE",
            "CHAT_BATCH_DELAY_MS", "CHAT_REDIS_APPENDFSYNC", "CHAT_ES_HEAP"]
    defaults = {"CHAT_HTTP_THREADS": str(max(1, (os.cpu_count() or 2) // 2)), "CHAT_BLOCKING_THREADS": "16",
                "CHAT_PUBLISHER_CONNECTIONS": "1",
                "CHAT_BATCH_SIZE": "500", "CHAT_BATCH_DELAY_MS": "50", "CHAT_REDIS_APPENDFSYNC": "always",
                "CHAT_ES_HEAP": "512m"}
    return {k: os.environ.get(k, defaults[k]) for k in keys} | {
        "CHAT_RATE_LIMIT_RPS": "0", "step_duration": STEP, "closed_loop_duration": CLOSED,
        "closed_loop_connections": CONNECTIONS,
        # scripts/bench.sh empties its stack first; runs before that used the developer's stack as found.
        "stack": os.environ.get("BENCH_STACK", "as found")}


class Proc:
    def __init__(self, name, argv, **env):
        self.log_path = os.path.join(tempfile.gettempdir(), f"bench-{name}.log")
        self.log = open(self.log_path, "wb")
        e = dict(os.environ)
        e.update({k: str(v) for k, v in env.items()})
        self.p = subprocess.Popen(argv, env=e, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


def require_free(*ports):
    """A server left over from an earlier run on one of our ports would answer in place of the one
    this run starts (which then fails to bind): every figure would be that stale server's."""
    for port in ports:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                raise RuntimeError(f"port {port} is taken (a server left from an earlier run?): "
                                   f"`ss -ltnp | grep {port}` tells which process holds it")


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def load(port, *args):
    """Runs chat_load against 127.0.0.1:port and returns its JSON report."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    argv = [LOAD, "--targets", f"http://127.0.0.1:{port}", "--quiet", "--json", path, *args]
    out = subprocess.run(argv, capture_output=True, text=True)
    # Exit 1 with a report: the run saw bad failures (a wrong answer). The figures are kept (the step
    # counts as missed, its errors show in the tables) and make bench fails at the end.
    if out.returncode not in (0, 1) or not os.path.getsize(path):
        raise RuntimeError(f"chat_load {' '.join(args)} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-2000:]}")
    if out.returncode == 1:
        # The whole report (every violation, the verifier's figures) is kept for the post-mortem.
        kept = os.path.join(os.environ.get("CHAT_VAR_DIR", "/tmp"), "bench-failures",
                            datetime.datetime.now().strftime("%Y%m%dT%H%M%S") + ".json")
        os.makedirs(os.path.dirname(kept), exist_ok=True)
        shutil.copyfile(path, kept)
        with open(kept + ".txt", "w") as f:
            f.write(out.stdout + "\n--- stderr\n" + out.stderr)
        log(f"  chat_load reported bad failures (report kept in {kept}):\n{out.stdout[-1500:]}")
        bad_runs.append(" ".join(args))
    with open(path) as f:
        report = json.load(f)
    os.unlink(path)
    return report


def op_figures(report, op):
    o = report["operations"][op]
    lat = o["latency_ms"]
    return {"throughput": round(o["throughput"], 1), "errors": o["errors"], "p50": lat["p50"], "p90": lat["p90"],
            "p99": lat["p99"], "p99_9": lat["p99_9"], "max": lat["max"]}


def peak_rate(op):
    """The highest open-loop rate of `op` with p99 < 10 ms, no error and the rate achieved."""
    mix = f"{op}=100"
    tried = []

    def ok_at(rate, second_try=False):
        r = load(API_PORT, "--rate", str(rate), "--connections", "512", "--duration", STEP, "--warmup", "2s",
                 "--mix", mix, "--apps", "4", "--chats", "25", "--replay", "0")
        f = op_figures(r, op)
        good = f["p99"] < P99_TARGET_MS and f["errors"] == 0 and f["throughput"] >= 0.95 * rate
        tried.append({"rate": rate, "ok": good} | f)
        log(f"  {op} at {rate}/s: {f['throughput']}/s, p50 {f['p50']:.2f} ms, p99 {f['p99']:.2f} ms, "
            f"errors {f['errors']} -> {'ok' if good else 'missed'}")
        # A p99 over a few seconds hangs on a handful of samples, and everything shares this machine
        # (a worker batch, an index refresh, an fsync): a miss counts only if a second run misses too.
        if not good and not second_try:
            return ok_at(rate, True)
        return good

    good, bad = 0, None
    rate = int(os.environ.get("BENCH_START_RATE", "100"))
    while bad is None and rate <= 200000:
        if ok_at(rate):
            good, rate = rate, rate * 2
        else:
            bad = rate
    for _ in range(3):
        if bad is None or bad - good <= max(50, good // 20):
            break
        mid = (good + bad) // 2
        if ok_at(mid):
            good = mid
        else:
            bad = mid
    best = max((t for t in tried if t["ok"]), key=lambda t: t["rate"], default=None)
    return {"peak_rate": good, "at_peak": best, "steps": tried}


def closed_loop(port, op):
    # Elasticsearch's search code is compiled by the JIT over its first thousands of queries (a fresh
    # one answered 3-7 times slower), and a server in service runs warm: search gets a longer warm-up.
    warmup = "15s" if op == "search" else "2s"
    r = load(port, "--connections", str(CONNECTIONS), "--duration", CLOSED, "--warmup", warmup, "--mix", f"{op}=100",
             "--apps", "4", "--chats", "25", "--replay", "0")
    return op_figures(r, op)


ACCESS_ROUNDS = int(os.environ.get("BENCH_ACCESS_ROUNDS", "3"))


def access_step():
    """Creation and reads with a user token (restricted applications: every request authenticated, its
    membership checked) beside the open mode, closed loop, in interleaved rounds on the same server:
    the cost of authorization (goal: within 10 %)."""
    out = {}
    for op in ("create_message", "get_message"):
        runs = {"open": [], "user_token": []}
        for _ in range(ACCESS_ROUNDS):
            for mode, extra in (("open", []), ("user_token", ["--user-tokens"])):
                r = load(API_PORT, "--connections", str(CONNECTIONS), "--duration", CLOSED, "--warmup", "2s",
                         "--mix", f"{op}=100", "--apps", "4", "--chats", "25", "--replay", "0", *extra)
                runs[mode].append(op_figures(r, op))
                log(f"  {op} {mode}: {runs[mode][-1]['throughput']}/s, p99 {runs[mode][-1]['p99']:.2f} ms, "
                    f"errors {runs[mode][-1]['errors']}")
        median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
        open_rate = median([f["throughput"] for f in runs["open"]])
        token_rate = median([f["throughput"] for f in runs["user_token"]])
        out[op] = {"open": runs["open"], "user_token": runs["user_token"],
                   "throughput_ratio": round(token_rate / open_rate, 3) if open_rate else None,
                   "p99_open_median": median([f["p99"] for f in runs["open"]]),
                   "p99_user_token_median": median([f["p99"] for f in runs["user_token"]])}
    return out


WEBHOOK_ROUNDS = int(os.environ.get("BENCH_WEBHOOK_ROUNDS", "3"))
WEBHOOK_DRAIN_TIMEOUT_S = float(os.environ.get("BENCH_WEBHOOK_DRAIN_TIMEOUT", "300"))
# What the API server and the worker need to accept (and deliver to) a plain-http loopback receiver.
WEBHOOK_ENV = dict(CHAT_WEBHOOK_ALLOW_HTTP=1, CHAT_WEBHOOK_ALLOW_PRIVATE=1)


class WebhookReceiver:
    """A webhook receiver on 127.0.0.1 in this process: answers every POST 204 (keep-alive), counts the
    requests and remembers when the first and the last arrived."""

    def __init__(self):
        self.lock = threading.Lock()
        self.count, self.first, self.last = 0, None, None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.time()
                with receiver.lock:
                    receiver.count += 1
                    receiver.first = receiver.first or now
                    receiver.last = now
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"

    def reset(self):
        with self.lock:
            self.count, self.first, self.last = 0, None, None

    def state(self):
        with self.lock:
            return self.count, self.first, self.last

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def webhooks_step():
    """Closed-loop message creation with a webhook subscribed to every event ("*") on each of the run's
    applications (chat_load --webhook, a receiver in this process answering 204) beside the same load
    without, in interleaved rounds on the same server: the cost of recording and delivering events for
    creation (goal: ratio ~1), and for the webhook runs the requests the receiver got and how long after
    the load ended the last one arrived (the sender's drain). Each webhook run is drained before the next
    run starts, so no delivery overlaps a run without webhooks."""
    receiver = WebhookReceiver()
    runs = {"without": [], "with": []}
    try:
        for _ in range(WEBHOOK_ROUNDS):
            for mode, extra in (("without", []), ("with", ["--webhook", receiver.url])):
                receiver.reset()
                r = load(API_PORT, "--connections", str(CONNECTIONS), "--duration", CLOSED, "--warmup", "2s",
                         "--mix", "create_message=100", "--apps", "4", "--chats", "25", "--replay", "0", *extra)
                ended = time.time()
                f = op_figures(r, "create_message")
                if mode == "with":
                    # Every chat.created and message.created of the run (setup included) is one request.
                    expected = r["acknowledged"]["chats"] + r["acknowledged"]["messages"]
                    started = time.time()
                    while time.time() - started < WEBHOOK_DRAIN_TIMEOUT_S:
                        count, _, last = receiver.state()
                        quiet = time.time() - (last or ended)
                        if (count >= expected and quiet > 1) or quiet > 15:
                            break
                        time.sleep(0.1)
                    count, first, last = receiver.state()
                    f |= {"requests_expected": expected, "requests_received": count,
                          "drain_s": round(max(0.0, (last or ended) - ended), 2),
                          "delivery_rate": round(count / (last - first), 1) if first and last > first else None}
                runs[mode].append(f)
                log(f"  {mode} webhook: {f['throughput']}/s, p99 {f['p99']:.2f} ms, errors {f['errors']}"
                    + (f"; receiver got {f['requests_received']} of {f['requests_expected']} requests, the last "
                       f"{f['drain_s']} s after the load" if mode == "with" else ""))
    finally:
        receiver.close()
    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    without = median([f["throughput"] for f in runs["without"]])
    with_hooks = median([f["throughput"] for f in runs["with"]])
    return {"without": runs["without"], "with": runs["with"],
            "throughput_ratio": round(with_hooks / without, 3) if without else None,
            "p99_without_median": median([f["p99"] for f in runs["without"]]),
            "p99_with_median": median([f["p99"] for f in runs["with"]]),
            "drain_s_median": median([f["drain_s"] for f in runs["with"]])}


SUSTAINED_DURATION = os.environ.get("BENCH_SUSTAINED_DURATION", "60s")
SUSTAINED_RATES = [int(r) for r in os.environ.get("BENCH_SUSTAINED_RATES", "2000,5000,8000,11000").split(",") if r]
SUSTAINED_BISECTIONS = int(os.environ.get("BENCH_SUSTAINED_BISECTIONS", "3"))
SUSTAINED_DRAIN_S = 5.0  # after the load, the backlog a worker that keeps up leaves: a batch or two


def sustained():
    """Open loop of message creation for SUSTAINED_DURATION at each rate with one worker draining:
    the latency at that rate, whether everything acknowledged is stored, searchable and counted
    (chat_load --verify), and how long the drain took after the load ended. A rate is sustained when
    it was achieved without errors, the verification is clean and the drain took under
    SUSTAINED_DRAIN_S (the queue did not grow). Rates rise until one is not sustained; then up to
    SUSTAINED_BISECTIONS rates between the highest sustained one (or 0) and that one narrow it down, so
    that a machine that sustains none of the listed rates still gets a figure."""
    steps = []

    def run(rate):
        # A rate that was not sustained may leave a backlog behind its verification's drain timeout:
        # the next rate starts once the worker stored it all.
        wait_settled("SELECT COUNT(*) FROM messages", -1, timeout=300)
        r = load(API_PORT, "--rate", str(rate), "--connections", "512", "--duration", SUSTAINED_DURATION,
                 "--warmup", "2s", "--mix", "create_message=100", "--apps", "4", "--chats", "25", "--replay", "0",
                 "--verify", "--drain-timeout", "120s")
        f = op_figures(r, "create_message")
        v = r.get("verify", {})
        drain = v.get("drain", {})
        ok = (f["errors"] == 0 and f["throughput"] >= 0.95 * rate and v.get("ok") is True
              and drain.get("drained") is True and drain.get("seconds", 1e9) <= SUSTAINED_DRAIN_S)
        step = {"rate": rate, "sustained": ok, "verify_ok": v.get("ok"),
                "violations": v.get("violations", {}).get("total"),
                "drain_seconds": round(drain.get("seconds", 0), 2) if drain else None} | f
        steps.append(step)
        log(f"  {rate}/s for {SUSTAINED_DURATION}: {f['throughput']}/s, p50 {f['p50']:.2f} ms, p99 {f['p99']:.2f} ms, "
            f"errors {f['errors']}, verify {'ok' if v.get('ok') else 'FAILED'}, drain {step['drain_seconds']} s "
            f"-> {'sustained' if ok else 'not sustained'}")
        return ok

    good, bad = 0, None
    for rate in SUSTAINED_RATES:
        if not run(rate):
            bad = rate
            break
        good = rate
    for _ in range(SUSTAINED_BISECTIONS):
        if bad is None or bad - good <= max(100, good // 10):
            break
        mid = (good + bad) // 100 * 50  # halfway, rounded down to 50/s
        if mid <= good:
            break
        if run(mid):
            good = mid
        else:
            bad = mid
    return {"duration": SUSTAINED_DURATION, "drain_limit_s": SUSTAINED_DRAIN_S, "sustained_rate": good,
            "steps": steps}


def http_ceiling():
    p = Proc("ceiling", [os.path.join(BUILD, "bench", "ceiling_server")], CHAT_HTTP_PORT=CEILING_PORT)
    try:
        wait_http(f"http://127.0.0.1:{CEILING_PORT}/")
        r = load(CEILING_PORT, "--static", "/ceiling", "--connections", str(CONNECTIONS), "--duration", CLOSED,
                 "--warmup", "2s")
        return op_figures(r, "static")
    finally:
        p.stop()


def redis_ceiling():
    port = os.environ.get("CHAT_REDIS_PORT", "6380")
    out = subprocess.run(["redis-benchmark", "-p", port, "-q", "-n", "200000", "-c", "50", "-t", "set,get,incr",
                          "--csv"], capture_output=True, text=True, check=True).stdout
    rates = {}
    for line in out.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if len(cells) >= 2 and cells[0] in ("SET", "GET", "INCR"):
            rates[cells[0].lower()] = float(cells[1])
    return rates


def mysql_count(sql, port=None):
    out = subprocess.run(["mariadb", "-h", os.environ.get("CHAT_MYSQL_HOST", "127.0.0.1"), "-P",
                          str(port or os.environ.get("CHAT_MYSQL_PORT", "3307")), "-u", os.environ.get("CHAT_MYSQL_USER", "chat"),
                          "-p" + os.environ.get("CHAT_MYSQL_PASSWORD", "chat"),
                          os.environ.get("CHAT_MYSQL_DATABASE", "chat"), "-N", "-B", "-e", sql],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip() or 0)


def es_count():
    es = os.environ.get("CHAT_ES_URL", "http://127.0.0.1:9201")
    index = os.environ.get("CHAT_ES_INDEX", "messages")
    urllib.request.urlopen(urllib.request.Request(f"{es}/{index}/_refresh", method="POST"), timeout=30).read()
    with urllib.request.urlopen(f"{es}/{index}/_count", timeout=30) as r:
        return json.load(r)["count"]


def wait_settled(sql, floor, timeout=600, port=None):
    """Polls a MariaDB count until it passed `floor` and then stayed put for 3 s; returns
    (count, time of its last change)."""
    started = time.time()
    last, last_change = mysql_count(sql, port), time.time()
    while time.time() - started < timeout:
        n = mysql_count(sql, port)
        if n != last:
            last, last_change = n, time.time()
        elif time.time() - last_change > 3 and n > floor:
            break
        time.sleep(0.2)
    return last, last_change


def paused_chat_creation(start_worker):
    """Closed-loop create_chat with no worker running (the issue's baseline condition: the creation
    path alone, Redis and the broker, nothing draining beside it); then one worker stores the backlog
    before the next step."""
    before = mysql_count("SELECT COUNT(*) FROM chats")
    figures = closed_loop(API_PORT, "create_chat")
    worker = start_worker()
    wait_settled("SELECT COUNT(*) FROM chats", before)
    return worker, figures


def drain(start_worker):
    """Backlog queued with no worker running, then one worker: messages/s into MariaDB and into ES.
    The backlog is a closed-loop create_message run like closed_loop()'s, with no worker beside it:
    its figures are the creation path's alone (returned as the second value)."""
    before_db = mysql_count("SELECT COUNT(*) FROM messages")
    paused = op_figures(load(API_PORT, "--connections", str(CONNECTIONS), "--duration", CLOSED, "--warmup", "2s",
                             "--mix", "create_message=100", "--apps", "4", "--chats", "25", "--replay", "0"),
                        "create_message")
    log(f"  closed loop with no worker running: {paused}")
    time.sleep(1)
    queued_db = mysql_count("SELECT COUNT(*) FROM messages")
    log(f"  backlog queued ({queued_db - before_db} stored meanwhile, expected 0); starting one worker")
    worker = start_worker()
    started = time.time()
    # The backlog's size is known once it is stored: poll until MariaDB stops growing and the ES count
    # matches it.
    last, db_done = wait_settled("SELECT COUNT(*) FROM messages", queued_db)
    backlog = last - queued_db
    es_done = None
    while time.time() - started < 600:
        if es_count() >= es_baseline + backlog + (queued_db - before_db):
            es_done = time.time()
            break
        time.sleep(0.5)
    return worker, paused, {"messages": backlog, "mysql_seconds": round(db_done - started, 2),
                    "mysql_rate": round(backlog / (db_done - started), 1),
                    "es_seconds": round(es_done - started, 2) if es_done else None,
                    "es_rate": round(backlog / (es_done - started), 1) if es_done else None}


def micro():
    out = subprocess.run([os.path.join(BUILD, "bench", "micro_bench"), "--benchmark_min_time=0.2",
                          "--benchmark_format=json"], capture_output=True, text=True, check=True).stdout
    return {b["name"]: round(b["real_time"], 1) for b in json.loads(out)["benchmarks"]}


SEARCH_MESSAGES = os.environ.get("BENCH_MESSAGES", "300000")
SEARCH_VOCABULARIES = [v for v in os.environ.get("BENCH_VOCABULARIES", "20000,1000000").split(",") if v]


def search_once(vocabulary):
    environ = dict(os.environ, BENCH_MESSAGES=SEARCH_MESSAGES, BENCH_VOCABULARY=vocabulary)
    out = subprocess.run([os.path.join(BUILD, "bench", "search_bench")], capture_output=True, text=True,
                         check=True, env=environ).stdout
    res = {}
    m = re.search(r"indexing: (\d+) messages over (\d+) chats in ([\d.]+) s = (\d+) messages/s", out)
    if m:
        res["indexing"] = {"messages": int(m.group(1)), "chats": int(m.group(2)), "seconds": float(m.group(3)),
                           "rate": int(m.group(4))}
    m = re.search(r"index size: (\d+) bytes = ([\d.]+) bytes/message", out)
    if m:
        res["index_bytes"] = int(m.group(1))
        res["bytes_per_message"] = float(m.group(2))
    for m in re.finditer(r"query (.+?)\s+n=(\d+)\s+p50 ([\d.]+) ms\s+p99 ([\d.]+) ms\s+max ([\d.]+) ms", out):
        res.setdefault("queries", {})[m.group(1).strip()] = {"n": int(m.group(2)), "p50": float(m.group(3)),
                                                              "p99": float(m.group(4)), "max": float(m.group(5))}
    m = re.search(r"closed loop: (\d+) connections, (\d+) searches in ([\d.]+) s = (\d+) searches/s\s+"
                  r"p50 ([\d.]+) ms\s+p99 ([\d.]+) ms", out)
    if m:
        res["closed_loop"] = {"connections": int(m.group(1)), "throughput": int(m.group(4)),
                              "p50": float(m.group(5)), "p99": float(m.group(6))}
    return res


def search():
    """search_bench at each vocabulary size, and the p50 ratio of the largest to the smallest: the cost
    of a query must not grow with the vocabulary of all chats."""
    runs = {}
    for v in SEARCH_VOCABULARIES:
        log(f"  vocabulary of {v} words")
        runs[v] = search_once(v)
        log(f"  {runs[v]}")
    res = {"messages": int(SEARCH_MESSAGES), "vocabularies": runs}
    if len(runs) >= 2:
        by_size = sorted(SEARCH_VOCABULARIES, key=int)
        small, large = runs[by_size[0]], runs[by_size[-1]]
        res["p50_ratio"] = {k: round(large["queries"][k]["p50"] / q["p50"], 2)
                            for k, q in small.get("queries", {}).items()
                            if k in large.get("queries", {}) and q["p50"] > 0}
    return res


LIVE = os.path.join(BUILD, "bench", "live_bench")
LIVE_STREAMS = int(os.environ.get("BENCH_LIVE_STREAMS", "10000"))
LIVE_SUBSCRIBERS = int(os.environ.get("BENCH_LIVE_SUBSCRIBERS", "1000"))
LIVE_RATE = int(os.environ.get("BENCH_LIVE_RATE", "200"))
LIVE_DURATION = os.environ.get("BENCH_LIVE_DURATION", "20")
LIVE_CHATS = int(os.environ.get("BENCH_LIVE_CHATS", "20"))
# CHAT_MAX_CONNECTIONS defaults to 10,000 (src/core/config.hpp): 10,000 streams plus the connections
# that create messages and scrape /metrics need a little more.
LIVE_MAX_CONNECTIONS = 12000
LIVE_P99_GOAL_MS = 50.0


def raise_fd_limit():
    """Every stream is a socket in live_bench and in the API server (both inherit this limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def streams_open(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {m.group(1): int(float(m.group(2)))
            for m in re.finditer(r'^chat_live_streams_open\{[^}]*kind="(\w+)"[^}]*\} (\S+)', text, re.M)}


def live_run(args, hold=None):
    """Runs live_bench; with hold(phase_line) called at each --hold pause. Returns its JSON report."""
    argv = [LIVE, *args] + (["--hold"] if hold else [])
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    report = None
    for line in p.stdout:
        d = json.loads(line)
        if "phase" in d:
            hold(d)
            p.stdin.write("go\n")
            p.stdin.flush()
        else:
            report = d
    p.wait(timeout=60)
    err = p.stderr.read()
    if report is None:
        raise RuntimeError(f"live_bench {' '.join(args)} failed ({p.returncode}): {err[-2000:]}")
    log(f"  {err.strip()}")
    if not report["ok"]:
        bad_runs.append("live_bench " + " ".join(args))
    return report


def live_hold(api, port, kind):
    """LIVE_STREAMS streams of `kind` on one API server: memory per stream, all open at once, and one
    message per chat (100 streams per chat) delivered to every one of them."""
    seen = {}

    def at(phase):
        seen[phase["phase"]] = {"rss_kib": rss_kib(api.p.pid), "streams_open": streams_open(port)}
        if phase["phase"] == "open":
            time.sleep(2)  # the last streams' first writes settle
            seen["open"]["rss_kib"] = rss_kib(api.p.pid)
    r = live_run(["--targets", f"http://127.0.0.1:{port}", "--kind", kind, "--streams", str(LIVE_STREAMS),
                  "--chats", str(max(1, LIVE_STREAMS // 100)), "--per-chat", "1", "--drain", "20"], at)
    before, during = seen["ready"], seen["open"]
    return {"streams": LIVE_STREAMS, "opened": r["opened"], "open_seconds": round(r["open_seconds"], 2),
            "metric_open": during["streams_open"].get("sse" if kind == "sse" else "websocket", 0),
            "rss_before_kib": before["rss_kib"], "rss_open_kib": during["rss_kib"],
            "kib_per_stream": round((during["rss_kib"] - before["rss_kib"]) / LIVE_STREAMS, 2),
            "check_messages": r["messages"], "expected": r["expected"], "received": r["received"],
            "missing": r["missing"], "duplicates": r["duplicates"], "foreign": r["foreign"],
            "streams_ended": r["streams_ended"], "lag_ms": r["lag_ms"], "ok": r["ok"]}


def live():
    fds = raise_fd_limit()
    ports = LIVE_API_PORTS
    env = dict(CHAT_LOG_LEVEL="warn", CHAT_RATE_LIMIT_RPS=0, CHAT_MAX_CONNECTIONS=LIVE_MAX_CONNECTIONS)
    procs = []
    res = {"fd_limit": fds, "max_connections": LIVE_MAX_CONNECTIONS}
    try:
        apis = [Proc(f"live-api-{p}", [os.path.join(BUILD, "chat_api_server")], CHAT_HTTP_PORT=p, **env)
                for p in ports]
        procs += apis
        procs.append(Proc("live-worker", [os.path.join(BUILD, "chat_worker")], CHAT_LOG_LEVEL="warn",
                          CHAT_WORKER_METRICS_PORT=LIVE_WORKER_METRICS_PORT, CHAT_HTTP_HOST="127.0.0.1"))
        for p in ports:
            wait_http(f"http://127.0.0.1:{p}/readyz")
        kinds = [k for k in os.environ.get("BENCH_LIVE_KINDS", "sse,ws").split(",") if k]
        for i, kind in enumerate(kinds):
            # Each kind on a fresh server: the memory of the other's streams is not returned to the OS.
            api, port = apis[i % 2], ports[i % 2]
            log(f"  {LIVE_STREAMS} {kind} streams on one API server")
            res[f"hold_{kind}"] = live_hold(api, port, kind)
            log(f"  {res[f'hold_{kind}']}")
        log(f"  lag: {LIVE_SUBSCRIBERS} SSE subscribers over 2 API servers, {LIVE_CHATS} chats, "
            f"{LIVE_RATE} messages/s for {LIVE_DURATION} s through both")
        r = live_run(["--targets", ",".join(f"http://127.0.0.1:{p}" for p in ports), "--kind", "sse",
                      "--streams", str(LIVE_SUBSCRIBERS), "--chats", str(LIVE_CHATS), "--rate", str(LIVE_RATE),
                      "--duration", LIVE_DURATION, "--warmup", "2", "--posters", "16"])
        res["lag"] = {k: r[k] for k in ("streams", "chats", "opened", "rate", "posting_seconds", "warmup_s",
                                         "messages", "posts_failed", "post_latency_ms", "expected", "received",
                                         "missing", "duplicates", "out_of_order", "foreign", "streams_ended",
                                         "before_201", "lag_ms", "lag_from_send_ms", "ok")}
        res["lag"]["servers"] = len(ports)
        log(f"  lag {r['lag_ms']}; missing {r['missing']}, duplicates {r['duplicates']}")
    finally:
        for p in procs:
            p.stop()
    return res


CLUSTER_SCRIPT = os.path.join(ROOT, "scripts", "cluster.sh")
CLUSTER_API_PORT = API_PORT + 30
CLUSTER_WORKER_METRICS_PORT = API_PORT + 38
CLUSTER_ROUNDS = int(os.environ.get("BENCH_CLUSTER_ROUNDS", "3"))
CLUSTER_RATES = [int(r) for r in os.environ.get("BENCH_CLUSTER_RATES", "250,500,1000").split(",") if r]


def cluster_step(api_env, worker_env):
    """Message creation on the cluster stack (scripts/cluster.sh up: Redis Cluster of 3 masters + 3
    replicas with WAIT 1, RabbitMQ cluster of 3 with quorum queues, MariaDB primary + replica,
    Elasticsearch of 3 nodes with 3 shards x 1 replica) beside the single-node stack, one API server
    and one worker on each, with both stacks running throughout so both carry the same background.
    Closed loop in interleaved rounds (single, cluster, single, ...: this machine's speed drifts within
    minutes), then open loop at the same fixed rates on each (with 15 more servers beside it, not even
    the single stack keeps p99 under 10 ms here, so the peak search of the main step would find
    nothing); the ratios are cluster / single."""
    subprocess.run([CLUSTER_SCRIPT, "wipe"], check=True)
    subprocess.run([CLUSTER_SCRIPT, "up"], check=True)
    lines = subprocess.run([CLUSTER_SCRIPT, "server-env"], check=True, capture_output=True, text=True).stdout
    on_cluster = dict(line.split("=", 1) for line in lines.splitlines() if "=" in line)
    primary = on_cluster["CHAT_MYSQL_PORT"]
    binary = lambda name: os.path.join(BUILD, name)  # noqa: E731
    procs = [Proc("api-single", [binary("chat_api_server")], **api_env),
             Proc("worker-single", [binary("chat_worker")], **worker_env),
             Proc("api-cluster", [binary("chat_api_server")],
                  **(api_env | on_cluster | {"CHAT_HTTP_PORT": CLUSTER_API_PORT})),
             Proc("worker-cluster", [binary("chat_worker")],
                  **(worker_env | on_cluster | {"CHAT_WORKER_METRICS_PORT": CLUSTER_WORKER_METRICS_PORT}))]
    stacks = {"single": (API_PORT, None), "cluster": (CLUSTER_API_PORT, primary)}
    try:
        for port, _ in stacks.values():
            wait_http(f"http://127.0.0.1:{port}/readyz", timeout=120)

        def settled(mysql_port):
            # The backlog a run left is stored before the next run starts, so no worker drains beside it.
            wait_settled("SELECT COUNT(*) FROM messages", -1, port=mysql_port)
        rounds = []
        for i in range(CLUSTER_ROUNDS):
            one = {}
            for name, (port, mysql_port) in stacks.items():
                one[name] = closed_loop(port, "create_message")
                settled(mysql_port)
            log(f"  round {i + 1}: single {one['single']['throughput']}/s (p99 {one['single']['p99']:.1f} ms), "
                f"cluster {one['cluster']['throughput']}/s (p99 {one['cluster']['p99']:.1f} ms)")
            rounds.append(one)
        open_loop = []
        for rate in CLUSTER_RATES:
            one = {"rate": rate}
            for name, (port, mysql_port) in stacks.items():
                r = load(port, "--rate", str(rate), "--connections", "512", "--duration", STEP, "--warmup", "2s",
                         "--mix", "create_message=100", "--apps", "4", "--chats", "25", "--replay", "0")
                one[name] = op_figures(r, "create_message")
                settled(mysql_port)
            log(f"  open loop at {rate}/s: single {one['single']['throughput']}/s p50 {one['single']['p50']:.1f} "
                f"p99 {one['single']['p99']:.1f} ms; cluster {one['cluster']['throughput']}/s p50 "
                f"{one['cluster']['p50']:.1f} p99 {one['cluster']['p99']:.1f} ms")
            open_loop.append(one)
    finally:
        for p in procs:
            p.stop()
        subprocess.run([CLUSTER_SCRIPT, "down"])

    def median(values):
        values = sorted(values)
        return values[len(values) // 2]
    single = median([r["single"]["throughput"] for r in rounds])
    on = median([r["cluster"]["throughput"] for r in rounds])
    res = {"rounds": rounds, "closed_loop_median": {"single": single, "cluster": on},
           "closed_loop_ratio": round(on / single, 3) if single else None, "open_loop": open_loop,
           "settings": {k: v for k, v in on_cluster.items() if not k.endswith(("_NODES", "_URL"))}}
    return res


def log_webhooks(w):
    log(f"  throughput ratio (with webhook / without) {w['throughput_ratio']}, p99 {w['p99_without_median']:.2f} / "
        f"{w['p99_with_median']:.2f} ms; last delivery {w['drain_s_median']} s after the load (median)")


es_baseline = 0
bad_runs = []


class SkipHttp(Exception):
    pass


def main():
    global es_baseline
    only_live = os.environ.get("BENCH_ONLY_LIVE") == "1"
    only_cluster = os.environ.get("BENCH_ONLY_CLUSTER") == "1"
    only_access = os.environ.get("BENCH_ONLY_ACCESS") == "1"
    only_webhooks = os.environ.get("BENCH_ONLY_WEBHOOKS") == "1"
    only_one = only_access or only_webhooks
    # WEBHOOK_ENV only lets the webhooks step register its loopback receiver; nothing else uses webhooks.
    env = dict(CHAT_HTTP_PORT=API_PORT, CHAT_LOG_LEVEL="warn", CHAT_RATE_LIMIT_RPS=0, CHAT_USER_RATE_LIMIT_RPS=0,
               **WEBHOOK_ENV)
    worker_env = dict(CHAT_LOG_LEVEL="warn", CHAT_WORKER_METRICS_PORT=WORKER_METRICS_PORT, CHAT_HTTP_HOST="127.0.0.1",
                      **WEBHOOK_ENV)
    require_free(API_PORT, CEILING_PORT, WORKER_METRICS_PORT, *LIVE_API_PORTS, LIVE_WORKER_METRICS_PORT,
                 CLUSTER_API_PORT, CLUSTER_WORKER_METRICS_PORT)
    result = {"machine": machine(), "settings": settings()}
    log(f"machine: {result['machine']}")
    procs = []
    try:
        if os.environ.get("BENCH_ONLY_SEARCH") == "1" or only_live or only_cluster:
            raise SkipHttp()
        if only_one:
            api = Proc("api", [os.path.join(BUILD, "chat_api_server")], **env)
            procs.append(api)
            worker = Proc("worker", [os.path.join(BUILD, "chat_worker")], **worker_env)
            procs.append(worker)
            wait_http(f"http://127.0.0.1:{API_PORT}/readyz")
            if only_access:
                log(f"user tokens beside the open mode ({ACCESS_ROUNDS} interleaved rounds)")
                result["access"] = access_step()
            if only_webhooks:
                log(f"webhooks: creation with a webhook beside creation without ({WEBHOOK_ROUNDS} interleaved rounds)")
                result["webhooks"] = webhooks_step()
                log_webhooks(result["webhooks"])
            raise SkipHttp()
        log("ceilings: fixed-answer HTTP server under chat_load, Redis alone")
        result["ceiling_http"] = http_ceiling()
        result["ceiling_redis"] = redis_ceiling()
        log(f"  HTTP ceiling {result['ceiling_http']['throughput']}/s; Redis {result['ceiling_redis']}")

        api = Proc("api", [os.path.join(BUILD, "chat_api_server")], **env)
        procs.append(api)
        worker = Proc("worker", [os.path.join(BUILD, "chat_worker")], **worker_env)
        procs.append(worker)
        wait_http(f"http://127.0.0.1:{API_PORT}/readyz")

        for op in ("create_message", "get_message"):
            log(f"peak open-loop rate of {op} with p99 < {P99_TARGET_MS:g} ms")
            result[f"peak_{op}"] = peak_rate(op)
        result["closed_loop"] = {}
        for op in ("create_message", "create_chat", "get_message", "list_messages", "search"):
            log(f"closed loop, {CONNECTIONS} connections: {op}")
            result["closed_loop"][op] = closed_loop(API_PORT, op)
            log(f"  {result['closed_loop'][op]}")

        if os.environ.get("BENCH_SKIP_ACCESS") != "1":
            log(f"user tokens beside the open mode ({ACCESS_ROUNDS} interleaved rounds)")
            result["access"] = access_step()
            log(f"  throughput ratios (user token / open): "
                f"{ {op: v['throughput_ratio'] for op, v in result['access'].items()} }")

        if os.environ.get("BENCH_SKIP_WEBHOOKS") != "1":
            log(f"webhooks: creation with a webhook beside creation without ({WEBHOOK_ROUNDS} interleaved rounds)")
            result["webhooks"] = webhooks_step()
            log_webhooks(result["webhooks"])

        if os.environ.get("BENCH_SKIP_SUSTAINED") != "1":
            log(f"sustained end-to-end rate: open loop {SUSTAINED_DURATION} per rate, one worker, verified")
            result["sustained"] = sustained()

        log("worker drain rate")
        worker.stop()
        procs.remove(worker)
        es_baseline = es_count()
        w, paused, result["drain"] = drain(
            lambda: Proc("worker-drain", [os.path.join(BUILD, "chat_worker")], **worker_env))
        procs.append(w)
        log(f"  {result['drain']}")
        result["closed_loop_no_worker"] = {"create_message": paused}
        log("closed loop create_chat with no worker running")
        w.stop()
        procs.remove(w)
        w, result["closed_loop_no_worker"]["create_chat"] = paused_chat_creation(
            lambda: Proc("worker-chats", [os.path.join(BUILD, "chat_worker")], **worker_env))
        procs.append(w)
        log(f"  {result['closed_loop_no_worker']['create_chat']}")
    except SkipHttp:
        log("BENCH_ONLY_ACCESS=1: the access step only" if only_access and not only_webhooks else
            "BENCH_ONLY_WEBHOOKS=1: the webhooks step only" if only_webhooks and not only_access else
            "BENCH_ONLY_ACCESS=1 BENCH_ONLY_WEBHOOKS=1: the access and webhooks steps only" if only_one else
            "BENCH_ONLY_LIVE=1: the live-delivery step only" if only_live else
            "BENCH_ONLY_CLUSTER=1: the cluster step only" if only_cluster else
            "BENCH_ONLY_SEARCH=1: the search benchmark only")
    finally:
        for p in procs:
            p.stop()

    if os.environ.get("BENCH_ONLY_SEARCH") != "1" and not only_live and not only_cluster and not only_one:
        log("micro-benchmarks")
        result["micro_ns"] = micro()
    if (os.environ.get("BENCH_ONLY_SEARCH") != "1" and os.environ.get("BENCH_SKIP_LIVE") != "1" and not only_cluster
            and not only_one):
        log("live delivery")
        result["live"] = live()
    if (os.environ.get("BENCH_SKIP_CLUSTER") != "1" and os.environ.get("BENCH_ONLY_SEARCH") != "1" and not only_live
            and not only_one):
        log(f"message creation on the cluster stack beside the single-node stack ({CLUSTER_ROUNDS} rounds)")
        result["cluster"] = cluster_step(env, worker_env)
        log(f"  closed loop cluster/single {result['cluster']['closed_loop_ratio']}")
    if os.environ.get("BENCH_SKIP_SEARCH") != "1" and not only_live and not only_cluster and not only_one:
        log(f"search benchmark ({SEARCH_MESSAGES} messages, vocabularies {SEARCH_VOCABULARIES})")
        result["search"] = search()

    os.makedirs(RESULTS, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(RESULTS, f"{stamp}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    log(f"results in {os.path.relpath(path, ROOT)}")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "report.py")], check=True)
    if bad_runs:
        log("FAILED: wrong answers under load in: " + "; ".join(bad_runs))
        sys.exit(1)


if __name__ == "__main__":
    main()
