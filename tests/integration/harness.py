"""Test harness: runs our real binaries against the real servers of the test stack.

The stack itself (MariaDB, Redis, RabbitMQ, Elasticsearch) is started by `make test` through
scripts/stack.sh with the settings of scripts/test-env.sh; this module starts and stops API servers
and workers, talks HTTP to them, and reads MariaDB with the `mariadb` client. Nothing is mocked.
Only the Python standard library is used.
"""
import http.client
import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
import warnings

# Clients in tests are dropped without ceremony; the interpreter's socket warnings are noise here.
warnings.simplefilter("ignore", ResourceWarning)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
API_BIN = os.environ.get("CHAT_API_BIN", os.path.join(ROOT, "build", "debug", "chat_api_server"))
WORKER_BIN = os.environ.get("CHAT_WORKER_BIN", os.path.join(ROOT, "build", "debug", "chat_worker"))
CTL_BIN = os.environ.get("CHAT_CTL_BIN", os.path.join(ROOT, "build", "debug", "chat_ctl"))
VAR_DIR = os.environ.get("CHAT_VAR_DIR", os.path.join(ROOT, "var", "test"))
LOG_DIR = os.path.join(VAR_DIR, "log", "tests")


def env(**extra):
    e = dict(os.environ)
    e.setdefault("CHAT_COUNT_REFRESH_INTERVAL_S", "1")
    e.setdefault("CHAT_RECOVERY_CHECK_INTERVAL_S", "1")
    e.setdefault("CHAT_LOG_LEVEL", "info")
    e.update({k: str(v) for k, v in extra.items()})
    return e


class Process:
    """One of our binaries, with its log in var/test/log/tests/."""

    def __init__(self, name, argv, environ):
        os.makedirs(LOG_DIR, exist_ok=True)
        self.name = name
        self.log_path = os.path.join(LOG_DIR, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, env=environ, stdout=self.log, stderr=subprocess.STDOUT)

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def stop(self):
        self.kill(signal.SIGTERM)
        self.check_sanitizers()

    def check_sanitizers(self):
        """In the ASan/UBSan build a report in the log fails the run, even one printed at exit."""
        with open(self.log_path, "rb") as f:
            text = f.read().decode(errors="replace")
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer"):
            if marker in text:
                raise AssertionError(f"{self.name}: sanitizer report in {self.log_path}")


_next_port = [18080 + (os.getpid() % 500) * 4]


def start_api(**extra):
    port = _next_port[0]
    _next_port[0] += 1
    p = Process(f"api-{port}", [API_BIN], env(CHAT_HTTP_PORT=port, CHAT_HTTP_HOST="127.0.0.1", **extra))
    p.port = port
    deadline = time.time() + 30
    while time.time() < deadline:
        if p.proc.poll() is not None:
            raise RuntimeError(f"API server exited, see {p.log_path}")
        try:
            status, _, _ = Client(port).request("GET", "/healthz")
            if status == 200:
                return p
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("API server did not start")


_worker_count = [0]


def start_worker(**extra):
    """Starts a worker and waits until the stack is ready for tests: the numbering state is in Redis
    (a worker loads it at its first start) and the search index exists (a worker creates it)."""
    _worker_count[0] += 1
    metrics_port = _next_port[0]
    _next_port[0] += 1
    extra.setdefault("CHAT_WORKER_METRICS_PORT", metrics_port)
    extra.setdefault("CHAT_HTTP_HOST", "127.0.0.1")
    p = Process(f"worker-{_worker_count[0]}", [WORKER_BIN], env(**extra))
    p.metrics_port = int(extra["CHAT_WORKER_METRICS_PORT"])
    es = os.environ.get("CHAT_ES_URL", "http://127.0.0.1:19201")

    def ready():
        if p.proc.poll() is not None:
            raise RuntimeError(f"worker exited, see {p.log_path}")
        try:
            with urllib.request.urlopen(f"{es}/_alias/messages", timeout=5) as r:
                indexed = r.status == 200
        except OSError:
            indexed = False
        return indexed and redis_cli("EXISTS", "chat:seeded") == "1"
    wait_until(ready, timeout=90, what="worker ready")
    return p


class Client:
    """A keep-alive HTTP/1.1 client for one thread."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method, path, body=None, headers=None, raw=None):
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                payload = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 1:
                    raise
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload
        return resp.status, parsed, {k.lower(): v for k, v in resp.getheaders()}

    def close(self):
        self.conn.close()


def sql(query):
    """Rows of a query against the test database, as lists of strings (NULL as None)."""
    out = subprocess.run(
        ["mariadb", "-h", os.environ.get("CHAT_MYSQL_HOST", "127.0.0.1"), "-P",
         os.environ.get("CHAT_MYSQL_PORT", "13307"), "-u", os.environ.get("CHAT_MYSQL_USER", "chat"),
         "-p" + os.environ.get("CHAT_MYSQL_PASSWORD", "chat"), os.environ.get("CHAT_MYSQL_DATABASE", "chat"),
         "-N", "-B", "-e", query],
        check=True, capture_output=True, text=True).stdout
    return [[None if c == "NULL" else c for c in line.split("\t")] for line in out.splitlines()]


def redis_cli(*args):
    return subprocess.run(["redis-cli", "-h", os.environ.get("CHAT_REDIS_HOST", "127.0.0.1"), "-p",
                           os.environ.get("CHAT_REDIS_PORT", "16380"), *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def stack(*args):
    subprocess.run([os.path.join(ROOT, "scripts", "stack.sh"), *args], check=True)


def ctl(*args, **extra):
    return subprocess.run([CTL_BIN, *args], env=env(**extra), check=True, capture_output=True, text=True).stdout.strip()


def app_id(token):
    rows = sql(f"SELECT id FROM applications WHERE token = '{token}'")
    return int(rows[0][0])


def wait_until(predicate, timeout=60, interval=0.2, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def unique(prefix="app"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
