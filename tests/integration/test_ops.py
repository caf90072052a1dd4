"""Operability: metrics, request ids and logs, limits and rate limiting, graceful shutdown, quorum queues.

Each test starts the processes it needs with the settings under test, against the real test stack.
"""
import json
import re
import signal
import socket
import time
import unittest
import urllib.request

from test_live import Sse
from harness import Client, app_id, check_raw_reply, sql, stack, start_api, start_worker, unique, wait_until

procs = []


def tearDownModule():
    for p in procs:
        p.stop()


def new_app(c):
    status, app, _ = c.request("POST", "/api/v1/apps", {"name": unique()})
    assert status == 201, app
    return app["token"]


def scrape(port, path="/metrics"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def sample(text, name, **labels):
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return 0.0


def raw_connection(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def read_all(s, timeout=10):
    """Everything the server sends until it closes the connection."""
    s.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


def json_lines(path):
    with open(path, "rb") as f:
        lines = [l for l in f.read().decode(errors="replace").splitlines() if l.strip()]
    return [json.loads(l) for l in lines]


class MetricsAndLogs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.queue = unique("q")
        env = dict(CHAT_AMQP_QUEUE=cls.queue, CHAT_AMQP_DEAD_LETTER_QUEUE=cls.queue + ".dead")
        cls.api = start_api(CHAT_LOG_LEVEL="debug", **env)
        cls.worker = start_worker(CHAT_LOG_LEVEL="debug", CHAT_COUNT_REFRESH_INTERVAL_S=1, **env)
        procs.extend([cls.api, cls.worker])

    def test_api_metrics_count_requests_by_route_and_status(self):
        c = Client(self.api.port)
        token = new_app(c)
        self.assertEqual(c.request("POST", f"/api/v1/apps/{token}/chats")[0], 201)
        self.assertEqual(c.request("GET", f"/api/v1/apps/{token}/chats/99")[0], 404)
        status, ctype, text = scrape(self.api.port)
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain"), ctype)
        self.assertGreaterEqual(
            sample(text, "chat_http_requests_total", route="/api/v1/apps/:token/chats", method="POST", status="201"), 1)
        self.assertGreaterEqual(
            sample(text, "chat_http_requests_total", route="/api/v1/apps/:token/chats/:chat", method="GET",
                   status="404"), 1)
        self.assertGreaterEqual(
            sample(text, "chat_http_request_duration_seconds_count", route="/api/v1/apps/:token/chats",
                   method="POST", status="201"), 1)
        self.assertGreaterEqual(sample(text, "chat_broker_published_total", result="confirmed"), 1)
        self.assertGreaterEqual(sample(text, "chat_broker_confirm_duration_seconds_count"), 1)
        # The scrape itself is in flight while the registry is read.
        self.assertGreaterEqual(sample(text, "chat_http_requests_in_flight"), 1)
        self.assertGreaterEqual(sample(text, "chat_http_connections_open"), 1)
        # Paths with ids are not labels: the series stay few whatever the traffic.
        self.assertNotIn(token, text)

    def test_worker_metrics_show_batches_lag_queue_and_count_refresh(self):
        c = Client(self.api.port)
        token = new_app(c)
        c.request("POST", f"/api/v1/apps/{token}/chats")
        for i in range(5):
            self.assertEqual(c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": f"m{i}"})[0], 201)
        wait_until(lambda: sql(f"SELECT messages_count FROM chats WHERE application_id = {app_id(token)}") == [["5"]],
                   what="stored and counted")

        def worker_text():
            return scrape(self.worker.metrics_port)[2]
        wait_until(lambda: sample(worker_text(), "chat_count_refresh_runs_total", result="ok") >= 1,
                   what="count refresh counted")
        text = worker_text()
        self.assertGreaterEqual(sample(text, "chat_worker_events_total", outcome="stored"), 6)
        self.assertGreaterEqual(sample(text, "chat_worker_batch_size_count"), 1)
        self.assertGreaterEqual(sample(text, "chat_worker_batch_duration_seconds_count"), 1)
        self.assertGreaterEqual(sample(text, "chat_worker_persistence_lag_seconds_count"), 6)
        self.assertIn("chat_worker_queue_depth", text)

    def test_request_id_is_echoed_generated_and_carried_to_the_worker(self):
        c = Client(self.api.port)
        status, _, h = c.request("GET", "/healthz", headers={"X-Request-Id": "client-id-42"})
        self.assertEqual(h["x-request-id"], "client-id-42")
        _, _, h = c.request("GET", "/healthz")
        self.assertRegex(h["x-request-id"], r"^[0-9a-f]{32}$")
        # Unsafe ids (spaces, quotes, too long) are replaced, never logged as given.
        _, _, h = c.request("GET", "/healthz", headers={"X-Request-Id": 'x" y'})
        self.assertRegex(h["x-request-id"], r"^[0-9a-f]{32}$")
        _, _, h = c.request("GET", "/nowhere", headers={"X-Request-Id": "lost-route-1"})
        self.assertEqual(h["x-request-id"], "lost-route-1")

        token = new_app(c)
        c.request("POST", f"/api/v1/apps/{token}/chats")
        rid = "trace-" + unique("r")
        status, m, h = c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": "secret body text"},
                                 headers={"X-Request-Id": rid})
        self.assertEqual((status, h["x-request-id"]), (201, rid))
        wait_until(lambda: any(rid in e.get("msg", "") for e in json_lines(self.worker.log_path)),
                   what="worker logs the request id of the stored event")
        api_lines = json_lines(self.api.log_path)
        self.assertTrue(any(e.get("request_id") == rid for e in api_lines), "access log line with the id")
        # Every line of both logs parsed as JSON above; no body at info level or above.
        for e in api_lines + json_lines(self.worker.log_path):
            if e["level"] not in ("debug", "trace"):
                self.assertNotIn("secret body text", e["msg"])


class Limits(unittest.TestCase):
    def test_rate_limit_is_per_application_shared_by_servers_and_consumes_no_number(self):
        a = start_api(CHAT_RATE_LIMIT_RPS=1, CHAT_RATE_LIMIT_BURST=3)
        b = start_api(CHAT_RATE_LIMIT_RPS=1, CHAT_RATE_LIMIT_BURST=3)
        procs.extend([a, b])
        ca, cb = Client(a.port), Client(b.port)
        token = new_app(ca)  # creating an application is not application-scoped
        other = new_app(ca)
        # Alternate the two servers. Per-server buckets would admit 3 + 3; one shared bucket admits its
        # burst of 3 plus what refills meanwhile (1/s).
        started = time.time()
        answers = [(c.request("POST", f"/api/v1/apps/{token}/chats")) for c in [ca, cb] * 5]
        elapsed = time.time() - started
        created = [a for a in answers if a[0] == 201]
        limited = [a for a in answers if a[0] == 429]
        self.assertEqual(len(created) + len(limited), 10, [a[0] for a in answers])
        self.assertLessEqual(len(created), 3 + int(elapsed) + 1, f"{len(created)} admitted in {elapsed:.1f} s")
        self.assertTrue(any(a[0] == 429 for a in answers[1::2]), "server B shares the bucket")
        status, body, h = limited[0]
        self.assertEqual(body["error"]["code"], "rate_limited")
        self.assertGreaterEqual(int(h["retry-after"]), 1)
        # Another application is not affected.
        self.assertEqual(cb.request("GET", f"/api/v1/apps/{other}")[0], 200)
        # After waiting as told, the next creation gets the next number: the 429s consumed none.
        time.sleep(int(h["retry-after"]) + 0.2)
        status, chat, _ = cb.request("POST", f"/api/v1/apps/{token}/chats")
        self.assertEqual((status, chat["number"]), (201, len(created) + 1))
        self.assertGreaterEqual(sample(scrape(b.port)[2], "chat_rate_limited_total"), 1)

    def test_connection_cap_takes_room_from_idle_connections_and_refuses_when_all_are_busy(self):
        api = start_api(CHAT_MAX_CONNECTIONS=2, CHAT_RATE_LIMIT_RPS=0, CHAT_LIVE_APP_SHARE_PERCENT=100,
                        CHAT_LIVE_HEARTBEAT_MS=300)  # a stream notices its client left when it writes
        procs.append(api)
        c = Client(api.port)
        _, app, _ = c.request("POST", "/api/v1/apps", {"name": unique()})
        c.request("POST", f"/api/v1/apps/{app['token']}/chats")
        # Two idle keep-alive connections: a newcomer takes the place of one of them.
        held = [c, Client(api.port)]
        self.assertEqual(held[1].request("GET", "/healthz")[0], 200)
        newcomer = raw_connection(api.port)
        newcomer.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(read_all(newcomer).startswith(b"HTTP/1.1 200"))
        for h in held:
            h.close()

        def open_connections():
            probe = Client(api.port)
            _, text, _ = probe.request("GET", "/metrics")
            probe.close()
            return sample(text.decode() if isinstance(text, bytes) else text, "chat_http_connections_open")
        # The server notices the closes on its own time: wait until only the probe's is counted.
        wait_until(lambda: open_connections() <= 1, what="the closed connections forgotten")
        # Two connections busy with a request each (streams): nothing to take, the third gets 503.
        path = f"/api/v1/apps/{app['token']}/chats/1/stream"
        streams = [Sse(api.port, path) for _ in range(2)]
        self.assertEqual([st.resp.status for st in streams], [200, 200])
        s = raw_connection(api.port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = read_all(s)
        self.assertTrue(reply.startswith(b"HTTP/1.1 503"), reply[:80])
        self.assertIn(b"too many connections", reply)
        check_raw_reply("GET", "/healthz", reply)
        for st in streams:
            st.close()
        wait_until(lambda: Client(api.port).request("GET", "/healthz")[0] == 200, what="capacity back")

    def test_header_limit_and_timeouts(self):
        api = start_api(CHAT_MAX_HEADER_BYTES=4096, CHAT_IDLE_TIMEOUT_MS=300, CHAT_REQUEST_TIMEOUT_MS=500)
        procs.append(api)
        s = raw_connection(api.port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
        reply = read_all(s)
        self.assertTrue(reply.startswith(b"HTTP/1.1 431"), reply[:80])
        self.assertIn(b"headers_too_large", reply)
        check_raw_reply("GET", "/healthz", reply)
        # An idle keep-alive connection is closed after the idle timeout.
        s = raw_connection(api.port)
        started = time.time()
        self.assertEqual(read_all(s, timeout=5), b"")
        self.assertLess(time.time() - started, 4)
        # A request that never completes is cut off by the request timeout.
        s = raw_connection(api.port)
        s.sendall(b"POST /api/v1/apps HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        started = time.time()
        read_all(s, timeout=5)
        self.assertLess(time.time() - started, 4)


class GracefulShutdown(unittest.TestCase):
    def test_api_finishes_the_request_in_progress_and_refuses_new_connections(self):
        queue = unique("q")
        api = start_api(CHAT_AMQP_QUEUE=queue, CHAT_AMQP_DEAD_LETTER_QUEUE=queue + ".dead")
        procs.append(api)
        c = Client(api.port)
        token = new_app(c)
        self.assertEqual(c.request("POST", f"/api/v1/apps/{token}/chats")[0], 201)
        idle = raw_connection(api.port)
        body = json.dumps({"body": "sent during shutdown"}).encode()
        busy = raw_connection(api.port)
        busy.sendall(f"POST /api/v1/apps/{token}/chats/1/messages HTTP/1.1\r\nHost: x\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:5])
        time.sleep(0.3)
        api.proc.send_signal(signal.SIGTERM)
        # The idle connection is closed at once.
        self.assertEqual(read_all(idle, timeout=5), b"")
        # New connections are refused.
        wait_until(lambda: _refused(api.port), timeout=5, what="listener closed")
        # The request in progress completes, durably queued, and is the connection's last.
        busy.sendall(body[5:])
        reply = read_all(busy).decode()
        self.assertTrue(reply.startswith("HTTP/1.1 201"), reply[:200])
        check_raw_reply("POST", f"/api/v1/apps/{token}/chats/1/messages", reply.encode())
        self.assertIn("Connection: close", reply)
        self.assertEqual(api.proc.wait(timeout=20), 0)
        worker = start_worker(CHAT_AMQP_QUEUE=queue, CHAT_AMQP_DEAD_LETTER_QUEUE=queue + ".dead")
        procs.append(worker)
        wait_until(lambda: sql(f"SELECT body FROM messages WHERE application_id = {app_id(token)}") ==
                   [["sent during shutdown"]], what="stored")

    def test_api_shutdown_is_bounded_by_its_timeout(self):
        api = start_api(CHAT_SHUTDOWN_TIMEOUT_S=1, CHAT_REQUEST_TIMEOUT_MS=60000)
        procs.append(api)
        stuck = raw_connection(api.port)
        stuck.sendall(b"POST /api/v1/apps HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.3)
        started = time.time()
        api.proc.send_signal(signal.SIGTERM)
        self.assertEqual(api.proc.wait(timeout=15), 0)
        self.assertLess(time.time() - started, 5)

    def test_worker_stores_and_acknowledges_its_batch_before_exiting(self):
        queue = unique("q")
        env = dict(CHAT_AMQP_QUEUE=queue, CHAT_AMQP_DEAD_LETTER_QUEUE=queue + ".dead")
        api = start_api(**env)
        procs.append(api)
        c = Client(api.port)
        token = new_app(c)
        c.request("POST", f"/api/v1/apps/{token}/chats")
        # A long batch delay: the worker is still collecting its batch when it is told to stop.
        worker = start_worker(CHAT_BATCH_DELAY_MS=5000, CHAT_BATCH_SIZE=1000, **env)
        for i in range(20):
            self.assertEqual(c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": f"b{i}"})[0], 201)
        time.sleep(0.5)
        worker.proc.send_signal(signal.SIGTERM)
        self.assertEqual(worker.proc.wait(timeout=30), 0)
        worker.stop()
        # Stored before exiting, with no other worker on this queue, and nothing left to redeliver.
        self.assertEqual(sql(f"SELECT COUNT(*) FROM messages WHERE application_id = {app_id(token)}"), [["20"]])
        queues = stack_queues()
        self.assertEqual(queues[queue][1:], ["0", "0"], "nothing ready or unacknowledged")


class QuorumQueues(unittest.TestCase):
    def test_creations_flow_through_quorum_queues(self):
        queue = unique("qq")
        env = dict(CHAT_AMQP_QUEUE=queue, CHAT_AMQP_DEAD_LETTER_QUEUE=queue + ".dead", CHAT_AMQP_QUEUE_TYPE="quorum")
        api = start_api(**env)
        worker = start_worker(**env)
        procs.extend([api, worker])
        c = Client(api.port)
        token = new_app(c)
        self.assertEqual(c.request("POST", f"/api/v1/apps/{token}/chats")[0], 201)
        for i in range(10):
            self.assertEqual(c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": f"q{i}"})[0], 201)
        wait_until(lambda: sql(f"SELECT COUNT(*) FROM messages WHERE application_id = {app_id(token)}") == [["10"]],
                   what="stored through the quorum queue")
        queues = stack_queues()
        self.assertEqual(queues[queue][0], "quorum")
        self.assertEqual(queues[queue + ".dead"][0], "quorum")
        # Past its delivery limit the broker dead-letters into our queue rather than dropping.
        args = queue_arguments(queue)
        self.assertIn("x-delivery-limit", args)
        self.assertIn(queue + ".dead", args)


def _refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def queue_arguments(name):
    import os
    import subprocess
    out = subprocess.run([os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "stack.sh"), "rabbitmqctl",
                          "-q", "list_queues", "name", "arguments"], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.split("\t")[0] == name:
            return line
    return ""


def stack_queues():
    """name -> [type, ready, unacknowledged] from rabbitmqctl on the test stack."""
    import os
    import subprocess
    out = subprocess.run([os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "stack.sh"), "rabbitmqctl",
                          "-q", "list_queues", "name", "type", "messages_ready", "messages_unacknowledged"],
                         check=True, capture_output=True, text=True).stdout
    rows = [l.split("\t") for l in out.splitlines()[1:] if l.strip()]
    return {r[0]: r[1:] for r in rows}


if __name__ == "__main__":
    unittest.main()
