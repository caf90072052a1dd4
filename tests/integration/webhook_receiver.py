"""A webhook receiver for the tests: a small threaded HTTP/1.1 server on 127.0.0.1 that records every
request and answers as the test tells it.

    r = Receiver()                      # listening on a random port of 127.0.0.1
    r.url("/hook")                      # http://127.0.0.1:PORT/hook
    r.answer = lambda req: 400 if req.seen == 1 else None   # None: the next queued or default status
    r.statuses.extend([503, 503])       # the next two requests get 503 (after `answer`)
    r.status = 204                      # the default
    r.delay = 1.5                       # seconds each answer is held (or a function of the request)
    r.down()                            # nothing listens: connections are refused, open ones cut
    r.up()                              # listening again, on the same port
    r.requests()                        # what arrived, in order of arrival
    r.close()

Each request is recorded when it has arrived whole (before its answer is held or sent): method, path,
headers (lowercase names), the raw body bytes, the arrival time, `seen` (how many requests with the same
`webhook-id` header had arrived, this one included) and, once sent, the status answered (None when the
connection died first). Only the standard library.
"""
import collections
import json
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler


class Request:
    def __init__(self, method, path, headers, body, at, seen):
        self.method, self.path, self.headers, self.body, self.at, self.seen = method, path, headers, body, at, seen
        self.status = None  # the status answered (set as it is sent; None if the connection died first)
        self.answered_at = None

    @property
    def id(self):
        """The webhook-id header."""
        return self.headers.get("webhook-id")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Request {self.method} {self.path} id={self.id} seen={self.seen} status={self.status} {self.body[:120]!r}>"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and "Expect: 100-continue" answered
    timeout = 60

    def setup(self):
        super().setup()
        self.server.receiver._opened(self.connection)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        self.server.receiver._closed(self.connection)

    def log_message(self, *args):
        pass

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self):
        receiver = self.server.receiver
        body = self._read_body()
        if receiver.is_down:  # a request on a connection that outlived down(): cut it, record nothing
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        req = receiver._record(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        try:
            status, delay = receiver._decide(req)
            if delay > 0:
                time.sleep(delay)
            receiver._answering(req, status)  # before the bytes go: a sender that has them sees it set
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            receiver._answering(req, None)
        finally:
            receiver._answered(req)

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _handle


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True  # up() binds the same port again at once
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # a sender that hung up mid-request (a killed worker, down()) is not the test's failure


class Receiver:
    def __init__(self, status=204, delay=0.0):
        self.status = status          # the default answer
        self.statuses = collections.deque()  # answers consumed one per request, before the default
        self.answer = None            # function(Request) -> status or None, consulted first
        self.delay = delay            # seconds, or function(Request) -> seconds
        self._lock = threading.Condition()
        self._requests = []
        self._seen = collections.Counter()
        self._connections = set()
        self._in_flight = 0
        self._server = None
        self._thread = None
        self.port = 0
        self.up()

    # --- control --------------------------------------------------------------------------------------

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def is_down(self):
        return self._server is None

    def up(self):
        """Listens (again) on its port; the first time on a random free one."""
        if self._server is not None:
            return
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.receiver = self
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._server = server
        self._thread.start()

    def down(self):
        """Stops listening (new connections are refused) and cuts every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        self._thread.join(timeout=5)
        with self._lock:
            connections = list(self._connections)
        for c in connections:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.down()

    # --- what arrived ---------------------------------------------------------------------------------

    def requests(self):
        with self._lock:
            return list(self._requests)

    @property
    def in_flight(self):
        """Requests that arrived and are not answered yet (held by `delay`)."""
        with self._lock:
            return self._in_flight

    def clear(self):
        with self._lock:
            self._requests.clear()
            self._seen.clear()

    def wait(self, predicate, timeout=60, what="requests"):
        """Waits until predicate(requests()) is true; returns its value. AssertionError on timeout."""
        deadline = time.time() + timeout
        with self._lock:
            while True:
                value = predicate(list(self._requests))
                if value:
                    return value
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}: {len(self._requests)} requests arrived")
                self._lock.wait(min(left, 0.5))

    # --- called by the handler threads -----------------------------------------------------------------

    def _opened(self, connection):
        with self._lock:
            self._connections.add(connection)

    def _closed(self, connection):
        with self._lock:
            self._connections.discard(connection)

    def _record(self, method, path, headers, body):
        with self._lock:
            key = headers.get("webhook-id")
            self._seen[key] += 1
            req = Request(method, path, headers, body, time.time(), self._seen[key])
            self._requests.append(req)
            self._in_flight += 1
            self._lock.notify_all()
            return req

    def _decide(self, req):
        with self._lock:
            status = self.answer(req) if self.answer else None
            if status is None and self.statuses:
                status = self.statuses.popleft()
            if status is None:
                status = self.status
            delay = self.delay(req) if callable(self.delay) else self.delay
        return status, delay or 0

    def _answering(self, req, status):
        """`status` None: the connection died before the answer went out."""
        with self._lock:
            req.status, req.answered_at = status, time.time() if status is not None else None

    def _answered(self, req):
        with self._lock:
            self._in_flight -= 1
            self._lock.notify_all()
