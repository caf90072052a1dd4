"""A hostile client against a real API server: raw sockets over RFC 9110/9112 message framing, the JSON
and path rules. Every case checks what the client reads (status, headers, body, whether the
connection is closed) and that the server is still serving afterwards.

Request smuggling cases carry a second request inside their body: if the server ever answered it,
the body was read as a request.
"""
import json
import socket
import time
import unittest

from harness import Client, start_api, start_worker, unique

procs = []
api = None

SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def setUpModule():
    global api
    api = start_api(CHAT_MAX_BODY_BYTES=65536, CHAT_MAX_HEADER_BYTES=16384)
    procs.append(api)
    procs.append(start_worker())


def tearDownModule():
    for p in procs:
        p.stop()


class Reply:
    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def header(self, name):
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[0] if values else None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Reply({self.status} {self.reason}, {self.headers}, {self.body[:200]!r})"


def parse_replies(data, head_flags=()):
    """Every complete response in `data`; head_flags[i] says the i-th answers a HEAD (no body).
    Interim 1xx responses are returned too (they have no body)."""
    out = []
    rest = data
    while True:
        end = rest.find(b"\r\n\r\n")
        if end < 0:
            return out, rest
        head = rest[:end].decode("latin-1").split("\r\n")
        version, status, *reason = head[0].split(" ", 2)
        assert version in ("HTTP/1.1", "HTTP/1.0"), head[0]
        headers = []
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers.append((k, v.strip()))
        status = int(status)
        after = rest[end + 4:]
        final_index = len([r for r in out if r.status >= 200])
        is_head = final_index < len(head_flags) and head_flags[final_index]
        length = 0
        if status >= 200 and status not in (204, 304) and not is_head:
            cl = [v for k, v in headers if k.lower() == "content-length"]
            length = int(cl[0]) if cl else 0
        if len(after) < length:
            return out, rest
        out.append(Reply(status, reason[0] if reason else "", headers, after[:length]))
        rest = after[length:]


class Conn:
    """One raw TCP connection to the API server."""

    def __init__(self, port=None, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port or api.port), timeout=timeout)
        self.data = b""
        self.closed = False

    def send(self, raw):
        self.sock.sendall(raw)

    def read_replies(self, count, head_flags=(), timeout=5):
        """Reads until `count` final responses arrived or the server closed (or the timeout)."""
        deadline = time.time() + timeout
        while True:
            replies, _ = parse_replies(self.data, head_flags)
            if len([r for r in replies if r.status >= 200]) >= count or self.closed:
                return replies
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return replies
            except ConnectionResetError:
                self.closed = True
                self.reset = True
                return replies
            if not chunk:
                self.closed = True
            self.data += chunk

    def is_closed_by_server(self, timeout=3):
        """True when the server closes the connection (after answering) within `timeout`."""
        if self.closed:
            return True
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    self.closed = True
                    return True
                self.data += chunk
        except socket.timeout:
            return False
        except ConnectionResetError:
            self.closed = True
            return True

    def close(self):
        self.sock.close()


def exchange(raw, count=1, head_flags=()):
    c = Conn()
    try:
        c.send(raw)
        return c.read_replies(count, head_flags), c
    finally:
        pass


def post(path, body, extra=b""):
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n" + extra +
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def chunked(body_chunks, extra=b"", trailer=b""):
    head = b"POST /api/v1/apps HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n" + extra
    out = head + b"Transfer-Encoding: chunked\r\n\r\n"
    for ch in body_chunks:
        out += b"%x\r\n" % len(ch) + ch + b"\r\n"
    return out + b"0\r\n" + trailer + b"\r\n"


class HostileBase(unittest.TestCase):
    def tearDown(self):
        # Whatever the case sent, the server still serves.
        status, _, _ = Client(api.port).request("GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertIsNone(api.proc.poll(), "the API server exited")

    def assert_error(self, reply, status, code=None):
        self.assertEqual(reply.status, status, reply)
        self.assertEqual(reply.header("Content-Type"), "application/json", reply)
        err = reply.json()["error"]
        self.assertIsInstance(err["message"], str)
        if code:
            self.assertEqual(err["code"], code, reply)

    def assert_one_answer_then_close(self, raw, status, code=None, http10=False):
        replies, c = exchange(raw, count=2)
        self.assertEqual(len(replies), 1, replies)
        if isinstance(status, tuple):
            self.assertIn(replies[0].status, status, replies)
            self.assert_error(replies[0], replies[0].status)
        else:
            self.assert_error(replies[0], status, code)
        if not http10:  # HTTP/1.0 closes by default, without saying so
            self.assertEqual(replies[0].header("Connection"), "close")
        self.assertTrue(c.is_closed_by_server(), "the connection stays open after a framing error")
        replies, _ = parse_replies(c.data)
        self.assertEqual(len(replies), 1, f"a second answer: the body was served as a request {replies}")
        c.close()


class Framing(HostileBase):
    def test_huge_trailer_field_is_refused_and_the_server_lives(self):
        body = json.dumps({"name": unique()}).encode()
        raw = chunked([body], trailer=b"X-Big: " + b"a" * 200_000 + b"\r\n")
        replies, c = exchange(raw)
        self.assertEqual(len(replies), 1, replies)
        self.assert_error(replies[0], 431, "headers_too_large")
        c.close()

    def test_small_trailer_is_accepted_and_dropped(self):
        body = json.dumps({"name": unique()}).encode()
        replies, c = exchange(chunked([body[:5], body[5:]], trailer=b"X-Checksum: 1\r\n"))
        self.assertEqual(replies[0].status, 201, replies)
        c.close()

    def test_chunk_extension_bound(self):
        body = json.dumps({"name": unique()}).encode()
        raw = (b"POST /api/v1/apps HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
               b"%x;ext=" % len(body) + b"v" * (256 * 1024) + b"\r\n" + body + b"\r\n0\r\n\r\n")
        replies, c = exchange(raw)
        self.assertEqual(len(replies), 1, replies)
        self.assert_error(replies[0], 431, "headers_too_large")
        c.close()
        # a short extension is ignored
        ok = (b"POST /api/v1/apps HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
              b"%x;a=b;c=\"d\"\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        replies, c = exchange(ok)
        self.assertEqual(replies[0].status, 201, replies)
        c.close()

    def smuggle(self, te_lines, status, code, with_length=False):
        body = b"0\r\n\r\n" + SMUGGLED
        raw = b"POST /api/v1/apps HTTP/1.1\r\nHost: t\r\n" + b"".join(b"Transfer-Encoding: " + te + b"\r\n"
                                                                    for te in te_lines)
        if with_length:
            raw += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        raw += b"\r\n" + body
        self.assert_one_answer_then_close(raw, status, code)

    def test_unimplemented_codings_are_501_and_close(self):
        for te in (b"xchunked", b"identity", b"gzip", b"gzip, chunked", b"deflate"):
            with self.subTest(te=te):
                self.smuggle([te], 501, "not_implemented")
            with self.subTest(te=te, content_length=True):
                # Beast may see the conflict first (400): either way one answer, then close.
                self.smuggle([te], (400, 501), None, with_length=True)

    def test_malformed_or_misplaced_chunked_is_400_and_close(self):
        for te in ([b""], [b" "], [b'"chunked"'], [b"chunked, gzip"], [b"chunked, chunked"], [b"chunked", b"chunked"],
                   [b","], [b"chunked;q=1"], [b"chunked", b"gzip"]):
            with self.subTest(te=te):
                self.smuggle(te, 400, "bad_request")

    def test_chunked_with_content_length_is_400_and_close(self):
        self.smuggle([b"chunked"], 400, "bad_request", with_length=True)

    def test_transfer_encoding_in_http10_is_400(self):
        raw = b"POST /api/v1/apps HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED
        self.assert_one_answer_then_close(raw, 400, "bad_request", http10=True)

    def test_bad_content_lengths(self):
        for cl in (b"+5", b"5, 6", b"-1", b"0x10", b"1 2", b"99999999999999999999999"):
            with self.subTest(cl=cl):
                raw = b"POST /api/v1/apps HTTP/1.1\r\nHost: t\r\nContent-Length: " + cl + b"\r\n\r\n{}" + SMUGGLED
                replies, c = exchange(raw, count=2)
                self.assertEqual(len(replies), 1, replies)
                self.assertIn(replies[0].status, (400, 413), replies)
                self.assertTrue(c.is_closed_by_server())
                c.close()
        raw = b"POST /api/v1/apps HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}"
        self.assert_one_answer_then_close(raw, 400, "bad_request")

    def test_obs_fold_is_unfolded_or_refused(self):
        # RFC 9112 §5.2: either answer 400 or replace the fold with a space.
        replies, c = exchange(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Fold: a\r\n b\r\n\r\n")
        self.assertIn(replies[0].status, (200, 400), replies)
        c.close()

    def test_header_syntax_errors(self):
        for bad in (b"Host : t\r\n", b"Bad Name: x\r\n", b"\x00X: y\r\n",
                    b"X-Ctl: a\x01b\r\n"):
            with self.subTest(line=bad):
                raw = b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + bad + b"\r\n"
                replies, c = exchange(raw)
                self.assertEqual(len(replies), 1, replies)
                self.assert_error(replies[0], 400, "bad_request")
                c.close()

    def test_request_line_errors(self):
        for line in (b"GET /healthz HTTP/1.1 extra", b"GET  /healthz HTTP/1.1", b"GET /healthz HTTP/9.9",
                     b"GET /hea\x7fltz HTTP/1.1", b"G(T /healthz HTTP/1.1", b"/healthz HTTP/1.1"):
            with self.subTest(line=line):
                replies, c = exchange(line + b"\r\nHost: t\r\n\r\n")
                self.assertEqual(len(replies), 1, replies)
                self.assertGreaterEqual(replies[0].status, 400, replies)
                self.assertLess(replies[0].status, 500, replies)
                c.close()

    def test_header_limit(self):
        raw = b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 100)
                                                               for i in range(400)) + b"\r\n"
        replies, c = exchange(raw)
        self.assert_error(replies[0], 431, "headers_too_large")
        c.close()

    def test_pipelined_requests_are_answered_in_order(self):
        body = json.dumps({"name": unique()}).encode()
        raw = (b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n" + post("/api/v1/apps", body) +
               b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
        replies, c = exchange(raw, count=3)
        self.assertEqual([r.status for r in replies], [200, 201, 404], replies)
        c.close()


class HostHeader(HostileBase):
    def test_missing_duplicate_or_invalid_host_is_400(self):
        for headers in (b"", b"Host: a\r\nHost: b\r\n", b"Host: a\r\nHost: a\r\n", b"Host: a b\r\n",
                        b"Host: user@h\r\n", b"Host: h:x\r\n", b"Host: \r\n", b"Host: [::1\r\n"):
            with self.subTest(headers=headers):
                replies, c = exchange(b"GET /healthz HTTP/1.1\r\n" + headers + b"\r\n")
                self.assertEqual(len(replies), 1, replies)
                self.assert_error(replies[0], 400, "bad_request")
                c.close()

    def test_valid_hosts_are_served(self):
        for host in (b"localhost", b"127.0.0.1:8080", b"[::1]:80", b"api.example.com", b"xn--caf-dma.example"):
            with self.subTest(host=host):
                replies, c = exchange(b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
                self.assertEqual(replies[0].status, 200, replies)
                c.close()

    def test_http10_needs_no_host(self):
        replies, c = exchange(b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(replies[0].status, 200, replies)
        self.assertTrue(c.is_closed_by_server())
        c.close()

    def test_absolute_form_is_accepted(self):
        replies, c = exchange(b"GET http://127.0.0.1:%d/healthz HTTP/1.1\r\nHost: ignored\r\n\r\n" % api.port)
        self.assertEqual(replies[0].status, 200, replies)
        c.close()
        status_line = b"GET HTTP://h/api/v1/apps/nosuchtoken?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
        replies, c = exchange(status_line)
        self.assert_error(replies[0], 404, "not_found")
        c.close()
        for target in (b"ftp://h/healthz", b"http:///healthz", b"h:80", b"*"):
            with self.subTest(target=target):
                replies, c = exchange(b"GET " + target + b" HTTP/1.1\r\nHost: h\r\n\r\n")
                self.assert_error(replies[0], 400, "bad_request")
                c.close()


class Expect(HostileBase):
    def test_100_continue_then_final_answer(self):
        body = json.dumps({"name": unique()}).encode()
        c = Conn()
        c.send(b"POST /api/v1/apps HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
               b"Expect: 100-continue\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        c.sock.settimeout(3)
        first = c.sock.recv(4096)
        self.assertTrue(first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), first)
        c.data = first
        c.send(body)
        replies = c.read_replies(1)
        self.assertEqual([r.status for r in replies], [100, 201], replies)
        c.close()

    def test_100_continue_refused_early_when_too_large(self):
        c = Conn()
        c.send(b"POST /api/v1/apps HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 10000000\r\n\r\n")
        replies = c.read_replies(1)
        self.assertEqual(len(replies), 1, replies)
        self.assert_error(replies[0], 413, "payload_too_large")
        c.close()

    def test_unknown_expectation_is_417(self):
        replies, c = exchange(b"POST /api/v1/apps HTTP/1.1\r\nHost: t\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\n{}")
        self.assert_error(replies[0], 417, "expectation_failed")
        c.close()

    def test_http10_ignores_100_continue(self):
        body = json.dumps({"name": unique()}).encode()
        raw = (b"POST /api/v1/apps HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: " + str(len(body)).encode() +
               b"\r\n\r\n" + body)
        replies, c = exchange(raw)
        self.assertEqual([r.status for r in replies], [201], replies)
        c.close()


class Head(HostileBase):
    def test_head_has_get_headers_and_no_body(self):
        c = Conn()
        c.send(b"HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        replies = c.read_replies(2, head_flags=(True, False))
        self.assertEqual([r.status for r in replies], [200, 200], replies)
        get_len = int(replies[1].header("Content-Length"))
        self.assertGreater(get_len, 0)
        self.assertEqual(int(replies[0].header("Content-Length")), get_len)
        # On the wire, the HEAD answer's header is followed directly by the next answer.
        self.assertTrue(c.data[c.data.find(b"\r\n\r\n") + 4:].startswith(b"HTTP/1.1 200"), c.data[:400])
        self.assertEqual(len(replies[1].body), get_len)  # the GET after it is framed intact
        c.close()

    def test_head_errors_have_no_body(self):
        c = Conn()
        c.send(b"HEAD /api/v1/apps HTTP/1.1\r\nHost: t\r\n\r\nHEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        replies = c.read_replies(3, head_flags=(True, True, False))
        self.assertEqual([r.status for r in replies], [405, 404, 200], replies)
        self.assertEqual(replies[0].header("Allow"), "POST")
        first_end = c.data.find(b"\r\n\r\n") + 4
        self.assertTrue(c.data[first_end:].startswith(b"HTTP/1.1 404"), c.data[:600])
        second_end = c.data.find(b"\r\n\r\n", first_end) + 4
        self.assertTrue(c.data[second_end:].startswith(b"HTTP/1.1 200"), c.data[:900])
        c.close()

    def test_allow_lists_head_with_get(self):
        replies, c = exchange(b"DELETE /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assert_error(replies[0], 405, "method_not_allowed")
        self.assertEqual(replies[0].header("Allow"), "GET, HEAD")
        c.close()


class EarlyAnswers(HostileBase):
    def test_large_body_sent_before_reading_gets_the_413(self):
        body = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
        for _ in range(5):
            c = Conn(timeout=10)
            try:
                c.send(post("/api/v1/apps", body))
            except (BrokenPipeError, ConnectionResetError) as e:
                self.fail(f"the server reset the connection before the client could read its answer: {e}")
            replies = c.read_replies(1)
            self.assertEqual(len(replies), 1, replies)
            self.assert_error(replies[0], 413, "payload_too_large")
            self.assertFalse(getattr(c, "reset", False), "connection reset")
            c.close()

    def test_chunked_body_over_limit(self):
        raw = chunked([b"x" * 40000, b"y" * 40000])
        replies, c = exchange(raw)
        self.assert_error(replies[0], 413, "payload_too_large")
        c.close()

    def test_invented_methods_do_not_grow_metrics(self):
        for i in range(20):
            replies, c = exchange(b"M%dX /healthz HTTP/1.1\r\nHost: t\r\n\r\n" % i)
            self.assertEqual(replies[0].status, 405, replies)
            c.close()
        _, text, _ = Client(api.port).request("GET", "/metrics")
        text = text.decode() if isinstance(text, bytes) else str(text)
        self.assertIn("chat_http_requests_total", text)
        self.assertNotIn("M7X", text)


class JsonAndPaths(HostileBase):
    def test_json_bodies(self):
        cases = [
            (b"[" * 50000, 400), (b'{"name": "a"', 400), (b'{"name": "\xff\xfe"}', 400), (b"null", 400),
            (b'"str"', 400), (b'{"name": 12}', 422), (b'{"name": null}', 422), (b'{"name": ["a"]}', 422),
            (b'{"name": {"a": 1}}', 422), (b"{}", 422), (b'{"name": "' + b"a" * 300 + b'"}', 422),
            (b'{"name": "\\ud800"}', 400), (b'{"name": "ok"} trailing', 400), (b"\xef\xbb\xbf{}", 400),
            (b'{"name": 1e999}', 422),
        ]
        for body, status in cases:
            with self.subTest(body=body[:40]):
                replies, c = exchange(post("/api/v1/apps", body))
                self.assertEqual(len(replies), 1, replies)
                self.assertEqual(replies[0].status, status, replies)
                self.assertIn("error", replies[0].json())
                c.close()

    def test_content_types(self):
        body = json.dumps({"name": unique()}).encode()
        for ct, status in ((b"text/plain", 415), (b"application/json; charset=utf-8", 201),
                           (b"application/merge-patch+json", 201), (b"application/jsonx", 415)):
            with self.subTest(ct=ct):
                raw = (b"POST /api/v1/apps HTTP/1.1\r\nHost: t\r\nContent-Type: " + ct + b"\r\nContent-Length: " +
                       str(len(body)).encode() + b"\r\n\r\n" + body)
                replies, c = exchange(raw)
                self.assertEqual(replies[0].status, status, replies)
                c.close()

    def test_paths(self):
        cases = [
            (b"/api/v1/apps/%2e%2e/chats", 404), (b"/api/v1/apps/../apps", 404), (b"/api/v1/apps/a%2Fb", 404),
            (b"/api/v1/apps/tok/chats/0", 400), (b"/api/v1/apps/tok/chats/-1", 400),
            (b"/api/v1/apps/tok/chats/01", 400), (b"/api/v1/apps/tok/chats/99999999999999999999", 400),
            (b"/api/v1/apps/tok/chats/1e3", 400), (b"/api/v1/apps/tok/chats/%31", 400),
            (b"/api/v1/apps/" + b"t" * 5000, 404), (b"/healthz?%zz", 400), (b"/api/v1/apps/%00", 404),
        ]
        for target, status in cases:
            with self.subTest(target=target[:60]):
                replies, c = exchange(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\n\r\n")
                self.assertEqual(len(replies), 1, replies)
                self.assertEqual(replies[0].status, status, replies)
                self.assertIn("error", replies[0].json())
                c.close()

    def test_errors_leak_no_internals(self):
        c = Client(api.port)
        status, app, _ = c.request("POST", "/api/v1/apps", {"name": unique()})
        self.assertEqual(status, 201)
        token = app["token"]
        for query in ("cursor=18446744073709551610", "cursor=9999999999", "limit=0", "q=", "limit=1000000"):
            with self.subTest(query=query):
                replies, conn = exchange(b"GET /api/v1/apps/" + token.encode() +
                                         b"/chats/1/messages/search?q=hello&" + query.encode() +
                                         b" HTTP/1.1\r\nHost: t\r\n\r\n")
                r = replies[0]
                self.assertLess(r.status, 500, r)
                text = r.body.decode()
                for leak in ("app_id", "query", "elasticsearch", "Exception", "/work", "SELECT"):
                    self.assertNotIn(leak, text, r)
                conn.close()


if __name__ == "__main__":
    unittest.main()
