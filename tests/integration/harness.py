"""Test harness: runs our real binaries against the real servers of the test stack.

The stack itself (MariaDB, Redis, RabbitMQ, Elasticsearch) is started by `make test` through
scripts/stack.sh with the settings of scripts/test-env.sh; this module starts and stops API servers
and workers, talks HTTP to them, and reads MariaDB with the `mariadb` client. Nothing is mocked.
Every response a Client receives is checked against the OpenAPI description (src/api/openapi.json)
with python3-jsonschema; everything else is the Python standard library.
"""
import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
import warnings
from urllib.parse import urlsplit

try:
    from jsonschema import Draft202012Validator
except ImportError as e:  # pragma: no cover
    raise ImportError("the integration tests need python3-jsonschema (scripts/install-deps.sh)") from e

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
    # Webhook receivers in tests listen on loopback over plain http (test_webhooks checks the guard
    # with servers started without these).
    e.setdefault("CHAT_WEBHOOK_ALLOW_HTTP", "1")
    e.setdefault("CHAT_WEBHOOK_ALLOW_PRIVATE", "1")
    e.update({k: str(v) for k, v in extra.items()})
    return e


_started = []


@atexit.register
def _kill_leftovers():
    # unittest skips tearDownModule when setUpModule fails, so what a module had started by then
    # would outlive the run, and a leftover worker would go on consuming the stack's queue with its
    # module's settings (another Redis, another index) and take the next runs' deliveries.
    for p in _started:
        p.kill()


class Process:
    """One of our binaries, with its log in var/test/log/tests/."""

    def __init__(self, name, argv, environ):
        os.makedirs(LOG_DIR, exist_ok=True)
        self.name = name
        self.log_path = os.path.join(LOG_DIR, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, env=environ, stdout=self.log, stderr=subprocess.STDOUT)
        _started.append(self)

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


def _port_is_free(port):
    """True when nothing listens on 127.0.0.1:port. The counter's range crosses the stacks' own
    ports (the test stack's Elasticsearch answers on 19201 and 19301), so each port is tried."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is no owner
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def next_free_port():
    while not _port_is_free(_next_port[0]):
        _next_port[0] += 1
    port = _next_port[0]
    _next_port[0] += 1
    return port


def start_api(port=None, **extra):
    """Starts an API server on `port` (a restart passes the old one) or on the next free port."""
    port = port or next_free_port()
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
    metrics_port = next_free_port()
    extra.setdefault("CHAT_WORKER_METRICS_PORT", metrics_port)
    extra.setdefault("CHAT_HTTP_HOST", "127.0.0.1")
    settings = env(**extra)
    p = Process(f"worker-{_worker_count[0]}", [WORKER_BIN], settings)
    p.metrics_port = int(extra["CHAT_WORKER_METRICS_PORT"])
    # CHAT_ES_URL may be a node list, some of them dead on purpose: any node that answers will do.
    nodes = settings.get("CHAT_ES_URL", "http://127.0.0.1:19201").split(",")
    alias = settings.get("CHAT_ES_INDEX", "messages")

    def indexed(es):
        try:
            with urllib.request.urlopen(f"{es}/_alias/{alias}", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def ready():
        if p.proc.poll() is not None:
            raise RuntimeError(f"worker exited, see {p.log_path}")
        return any(indexed(es) for es in nodes) and redis_cli("EXISTS", "chat:seeded") == "1"
    wait_until(ready, timeout=90, what="worker ready")
    return p


SPEC_PATH = os.path.join(ROOT, "src", "api", "openapi.json")


class OpenApi:
    """The API's OpenAPI 3.1 description, used to check real responses so that it cannot drift.

    check() finds the operation the server routes a request to (the path template whose literal
    segments match, literal segments preferred over {parameters} as the router does, then the method),
    and fails when the status is not documented for it, a required response header is missing or
    invalid, the Content-Type is not the documented media type, or the JSON body does not validate
    against the documented schema. Requests no operation takes are checked against the document's
    x-unmatched-responses (404 route_not_found, 405 method_not_allowed, ...)."""

    def __init__(self, path=SPEC_PATH):
        with open(path, "rb") as f:
            self.doc = json.load(f)
        self._validators = {}
        self.templates = []
        for template, item in self.doc["paths"].items():
            segs = [s for s in template.split("/") if s]
            self.templates.append((template, segs, item))
        # Literal segments before parameters, position by position (".../messages/search" before
        # ".../messages/{message}").
        self.templates.sort(key=lambda t: [seg.startswith("{") for seg in t[1]])

    def at(self, pointer):
        """The object at a JSON pointer ("/components/schemas/App")."""
        obj = self.doc
        for part in pointer.split("/")[1:]:
            obj = obj[part.replace("~1", "/").replace("~0", "~")]
        return obj

    def resolve(self, obj, pointer):
        """(object, JSON pointer) after following local $refs."""
        while isinstance(obj, dict) and "$ref" in obj:
            pointer = obj["$ref"][1:]
            obj = self.at(pointer)
        return obj, pointer

    def validator(self, pointer):
        """A 2020-12 validator for the schema at `pointer`, rooted at the whole document so that every
        $ref to #/components/... resolves (OpenAPI's root keys are not JSON Schema keywords)."""
        if pointer not in self._validators:
            self._validators[pointer] = Draft202012Validator({**self.doc, "$ref": "#" + pointer})
        return self._validators[pointer]

    def route(self, method, path):
        """(template, operation pointer) of the operation taking `method path`; (template, None) when
        the path exists with other methods only; (None, None) when no path matches."""
        segs = [s for s in path.split("/") if s]
        known = None
        for template, tsegs, item in self.templates:
            if len(tsegs) != len(segs) or any(not t.startswith("{") and t != s for t, s in zip(tsegs, segs)):
                continue
            if method.lower() in item:
                return template, "/paths/" + template.replace("~", "~0").replace("/", "~1") + "/" + method.lower()
            known = known or template
        return known, None

    def check(self, method, target, status, headers, payload):
        """Raises AssertionError when this response contradicts the document. `headers` has lowercase
        names; `payload` is the raw body."""
        path = urlsplit(target).path
        template, op_pointer = self.route(method, path)
        where = f"OpenAPI: {method} {target} -> {status}"
        if op_pointer is None:
            responses_pointer = "/x-unmatched-responses/responses"
            what = f"an unrouted request ({'no such path' if template is None else 'path ' + template})"
        else:
            responses_pointer = op_pointer + "/responses"
            what = f"{method.upper()} {template}"
        responses = self.at(responses_pointer)
        key = next((k for k in (str(status), f"{status // 100}XX", "default") if k in responses), None)
        if key is None:
            raise AssertionError(f"{where}: status {status} is not documented for {what} "
                                 f"(documented: {', '.join(sorted(responses))}); body: {payload[:300]!r}")
        resp, resp_pointer = self.resolve(responses[key], f"{responses_pointer}/{key}")
        for name, h in resp.get("headers", {}).items():
            h, _ = self.resolve(h, None)
            value = headers.get(name.lower())
            if value is None:
                if h.get("required"):
                    raise AssertionError(f"{where}: required header {name} is missing")
                continue
            schema = h.get("schema", {})
            if schema.get("type") == "integer":
                try:
                    value = int(value)
                except ValueError:
                    raise AssertionError(f"{where}: header {name}: {value!r} is not an integer") from None
            errors = list(Draft202012Validator(schema).iter_errors(value))
            if errors:
                raise AssertionError(f"{where}: header {name}: {errors[0].message}")
        content = resp.get("content")
        if not content:
            return
        media = (headers.get("content-type") or "").split(";")[0].strip().lower()
        if media not in content:
            raise AssertionError(f"{where}: Content-Type {media!r} is not one of {sorted(content)}")
        if not (media == "application/json" or media.endswith("+json")) or "schema" not in content[media]:
            return
        try:
            body = json.loads(payload)
        except ValueError:
            raise AssertionError(f"{where}: body is not JSON: {payload[:300]!r}") from None
        pointer = resp_pointer + "/content/" + media.replace("~", "~0").replace("/", "~1") + "/schema"
        error = next(iter(sorted(self.validator(pointer).iter_errors(body), key=lambda e: e.path)), None)
        if error is not None:
            at = "/".join(str(p) for p in error.absolute_path)
            raise AssertionError(f"{where}: body does not match {pointer} at /{at}: {error.message}; "
                                 f"body: {json.dumps(body)[:500]}")


_openapi = []


def openapi():
    """The description, loaded once."""
    if not _openapi:
        _openapi.append(OpenApi())
    return _openapi[0]


def check_raw_reply(method, target, reply):
    """Checks the bytes of one HTTP response read from a raw socket (tests that send malformed or
    partial HTTP) against the description; returns (status, parsed body, lowercase headers)."""
    head, _, rest = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    payload = rest[:int(headers.get("content-length", len(rest)))]
    openapi().check(method, target, status, headers, payload)
    try:
        parsed = json.loads(payload) if payload else None
    except ValueError:
        parsed = payload
    return status, parsed, headers


class Client:
    """A keep-alive HTTP/1.1 client for one thread. Every response is checked against the OpenAPI
    description (an AssertionError when it contradicts it)."""

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
        headers = {k.lower(): v for k, v in resp.getheaders()}
        openapi().check(method, path, resp.status, headers, payload)
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload
        return resp.status, parsed, headers

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
    """redis-cli against the Redis the servers use: the single node, or (CHAT_REDIS_NODES set, as
    test_redis_cluster does for its module) the cluster, following its redirections."""
    nodes = os.environ.get("CHAT_REDIS_NODES", "")
    if not nodes:
        where = ["-h", os.environ.get("CHAT_REDIS_HOST", "127.0.0.1"), "-p", os.environ.get("CHAT_REDIS_PORT", "16380")]
        return subprocess.run(["redis-cli", *where, *args], check=True, capture_output=True, text=True).stdout.strip()
    for node in nodes.split(","):  # the first node that is up (a drill may have killed some)
        host, port = node.rsplit(":", 1)
        out = subprocess.run(["redis-cli", "-c", "-h", host, "-p", port, *args], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.strip()
    raise RuntimeError(f"no Redis Cluster node of {nodes} answers")


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


LOAD_BIN = os.environ.get("CHAT_LOAD_BIN", "")


def require_load_bin():
    if not os.path.exists(LOAD_BIN):
        raise RuntimeError(f"CHAT_LOAD_BIN must name the chat_load binary, got {LOAD_BIN!r}")


def drill(test, name, apis, fault, seconds, chats=5, retries=6):
    """A fault drill: chat_load --verify drives `apis` for `seconds` while `fault` runs from a third of
    the way in; then the run must have passed its verification (0 lost, 0 duplicated, numbers 1..N,
    searchable, counted), acknowledged something, and met the fault with 503s, never a 500.
    Returns the load's JSON report (its errors are what clients saw)."""
    os.makedirs(LOG_DIR, exist_ok=True)
    report = os.path.join(LOG_DIR, f"drill-{name}.json")
    log = open(os.path.join(LOG_DIR, f"drill-{name}.log"), "wb")
    targets = ",".join(f"http://127.0.0.1:{a.port}" for a in apis)
    load = subprocess.Popen(
        [LOAD_BIN, "--targets", targets, "--connections", "16", "--duration", f"{seconds}s",
         "--apps", "3", "--chats", str(chats), "--retries", str(retries), "--timeout", "15s", "--verify",
         "--drain-timeout", "180s", "--json", report, "--quiet"],
        env=env(), stdout=log, stderr=subprocess.STDOUT)
    time.sleep(seconds / 3)
    errors = []

    def run_fault():
        try:
            fault()
        except Exception as e:  # reported after the load, with the verification
            errors.append(e)
    t = threading.Thread(target=run_fault)
    t.start()
    rc = load.wait(timeout=seconds + 600)
    t.join()
    log.close()
    if errors:
        raise errors[0]
    with open(report) as f:
        r = json.load(f)
    test.assertEqual(rc, 0, f"chat_load failed, see {log.name} and {report}")
    acknowledged = sum(op["ok"] for op_name, op in r["operations"].items() if op_name.startswith("create_"))
    test.assertGreater(acknowledged, 0, "the drill acknowledged nothing")
    # A fault of a dependency is an outage (503, retryable), not a bug (500).
    internal = [e for e in r["errors"] if e["kind"].startswith("500")]
    test.assertEqual(internal, [], f"a dependency fault surfaced as 500, see the API logs in {LOG_DIR}")
    r["acknowledged_creations"] = acknowledged
    return r


def drill_summary(r):
    """What clients saw in a drill's report: creations acknowledged, the errors that remained after
    their retries, and the ack -> stored / searchable lag of the sampled creations."""
    lag = r["verify"]["lag_ms"]
    failed = {f'{e["operation"]} {e["kind"]}': e["final"] for e in r["errors"] if e["final"]}
    retried = sum(e["attempts"] for e in r["errors"])
    return (f'{r["acknowledged_creations"]} creations acknowledged; {retried} attempts failed and were retried, '
            f'failed for good: {failed or "none"}; ack->stored p50 {lag["stored"]["p50"] / 1000:.1f} s, '
            f'max {lag["stored"]["max"] / 1000:.1f} s; ack->searchable p50 {lag["searchable"]["p50"] / 1000:.1f} s, '
            f'max {lag["searchable"]["max"] / 1000:.1f} s')


def drop_search_index(es_url, alias):
    """Deletes the indices behind `alias` on the Elasticsearch at `es_url`, if any: a module that owns
    an index starts it afresh (the worker creates it again)."""
    try:
        with urllib.request.urlopen(f"{es_url}/_alias/{alias}", timeout=10) as r:
            indices = list(json.load(r))
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return
        raise
    for index in indices:
        urllib.request.urlopen(urllib.request.Request(f"{es_url}/{index}", method="DELETE"), timeout=30).close()


CLUSTER_SCRIPT = os.path.join(ROOT, "scripts", "cluster.sh")


# The test stack's settings as the run began: cluster.sh derives the clusters' ports from them, so it
# must not see what a module set for its servers (CHAT_ES_URL as a node list, say).
_STACK_ENV = dict(os.environ)


def cluster(*args):
    """scripts/cluster.sh (the cluster stack's engines) with these arguments; its standard output."""
    done = subprocess.run([CLUSTER_SCRIPT, *args], capture_output=True, text=True, env=_STACK_ENV)
    if done.returncode != 0:
        # Its log lines and the reason it died are on stderr: without them a CI failure says nothing.
        raise RuntimeError(f"cluster.sh {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout.strip()


class module_env:
    """Settings for one test module's processes: set(values) puts them in os.environ, which env()
    copies for every process started; restore() puts back what was there."""

    def __init__(self):
        self.saved = {}

    def set(self, values):
        for k, v in values.items():
            self.saved.setdefault(k, os.environ.get(k))
            os.environ[k] = v

    def restore(self):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self.saved = {}
