"""The WebSocket of an application (GET /api/v1/apps/{token}/ws) against the real stack: replay then
live across two API servers (fan-out over Redis pub/sub), several chats on one socket, unsubscribe,
error frames that keep the socket, sends with an idempotency key, another application's chats
refused, close frames at shutdown and for a reader that does not keep up."""
import concurrent.futures
import json
import signal
import time
import unittest
import urllib.request

from harness import Client, start_api, start_worker, unique
from wsclient import BINARY, CONT, PING, PONG, TEXT, Closed, Refused, WebSocket

procs = []
api_a = api_b = None


def setUpModule():
    global api_a, api_b
    api_a = start_api(CHAT_RATE_LIMIT_RPS=0)
    api_b = start_api(CHAT_RATE_LIMIT_RPS=0)
    procs.extend([api_a, api_b, start_worker()])


def tearDownModule():
    for p in procs:
        p.stop()


def new_app(c):
    status, app, _ = c.request("POST", "/api/v1/apps", {"name": unique()})
    assert status == 201, app
    return app["token"]


def new_chat(c, token):
    status, chat, _ = c.request("POST", f"/api/v1/apps/{token}/chats")
    assert status == 201, chat
    return chat["number"]


def post(c, token, chat, body):
    status, m, _ = c.request("POST", f"/api/v1/apps/{token}/chats/{chat}/messages", {"body": body})
    assert status == 201, (status, m)
    return m["number"]


def ws_path(token):
    return f"/api/v1/apps/{token}/ws"


def subscribe(ws, chat, after=None):
    args = {"chat": chat} if after is None else {"chat": chat, "after": after}
    ws.send_json({"subscribe": args})
    frame = ws.recv_json()
    assert frame == {"subscribed": {"chat": chat, "after": after}}, frame
    return frame


def events(ws, count):
    out = []
    while len(out) < count:
        f = ws.recv_json()
        assert "event" in f, f
        out.append(f)
    return out


class Delivery(unittest.TestCase):
    def test_replay_then_live_across_servers_without_gap_or_duplicate(self):
        a = Client(api_a.port)
        token = new_app(a)
        chat = new_chat(a, token)
        for i in range(5):
            post(a, token, chat, f"before {i}")
        ws = WebSocket(api_b.port, ws_path(token))
        subscribe(ws, chat, after=2)

        def writer(port, n):
            c = Client(port)
            return [post(c, token, chat, f"live {port} {i}") for i in range(n)]

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(writer, p, 10) for p in (api_a.port, api_b.port, api_a.port, api_b.port)]
            created = sorted(n for f in futures for n in f.result())
        self.assertEqual(created, list(range(6, 46)))
        got = events(ws, 43)
        ws.close()
        self.assertEqual([e["number"] for e in got], list(range(3, 46)))
        self.assertTrue(all(e["event"] == "message.created" and e["chat"] == chat for e in got))
        status, m4, _ = a.request("GET", f"/api/v1/apps/{token}/chats/{chat}/messages/4")
        self.assertEqual(status, 200)
        self.assertEqual(got[1]["message"], m4)  # the message exactly as GET returns it

    def test_two_chats_on_one_socket_and_unsubscribe(self):
        a = Client(api_a.port)
        token = new_app(a)
        one, two, other = new_chat(a, token), new_chat(a, token), new_chat(a, token)
        post(a, token, one, "one-1")
        ws = WebSocket(api_b.port, ws_path(token))
        subscribe(ws, two)  # live only (first: chat one's replay would race with this answer)
        subscribe(ws, one, after=0)
        for i in range(3):
            post(a, token, other, f"other {i}")  # never on this socket
            post(a, token, one, f"one-{i + 2}")
            post(a, token, two, f"two-{i + 1}")
        got = events(ws, 7)
        by_chat = {}
        for e in got:
            by_chat.setdefault(e["chat"], []).append((e["number"], e["message"]["body"]))
        self.assertEqual(by_chat, {one: [(1, "one-1"), (2, "one-2"), (3, "one-3"), (4, "one-4")],
                                   two: [(1, "two-1"), (2, "two-2"), (3, "two-3")]})
        ws.send_json({"unsubscribe": {"chat": one}})
        self.assertEqual(ws.recv_json(), {"unsubscribed": {"chat": one}})
        post(a, token, one, "after unsubscribe")
        post(a, token, two, "two-4")
        nxt = ws.recv_json()
        self.assertEqual((nxt["chat"], nxt["number"]), (two, 4))
        # Subscribing again resumes where the client says.
        subscribe(ws, one, after=4)
        nxt = ws.recv_json()
        self.assertEqual((nxt["chat"], nxt["number"], nxt["message"]["body"]), (one, 5, "after unsubscribe"))
        ws.close()

    def test_edits_arrive_as_updates(self):
        a = Client(api_a.port)
        token = new_app(a)
        chat = new_chat(a, token)
        post(a, token, chat, "draft")
        ws = WebSocket(api_b.port, ws_path(token))
        subscribe(ws, chat, after=0)
        self.assertEqual(ws.recv_json()["number"], 1)
        deadline = time.time() + 120  # a loaded machine's worker may be behind; ends as soon as stored
        while True:  # edits need the stored row
            status, _, _ = a.request("PUT", f"/api/v1/apps/{token}/chats/{chat}/messages/1", {"body": "final"})
            if status == 200 or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(status, 200)
        e = ws.recv_json()
        ws.close()
        self.assertEqual((e["event"], e["number"], e["message"]["body"]), ("message.updated", 1, "final"))


class Frames(unittest.TestCase):
    def test_error_frames_keep_the_socket(self):
        a = Client(api_a.port)
        token = new_app(a)
        chat = new_chat(a, token)
        ws = WebSocket(api_a.port, ws_path(token))
        cases = [
            (lambda: ws.send_frame(TEXT, "not json"), "bad_request", {}),
            (lambda: ws.send_json({"publish": {"chat": chat}}), "bad_request", {}),
            (lambda: ws.send_json({"subscribe": {"chat": 0}}), "invalid_field", {"command": "subscribe"}),
            (lambda: ws.send_json({"subscribe": {"chat": chat, "after": -1}}), "invalid_field", {"chat": chat}),
            (lambda: ws.send_json({"subscribe": {"chat": 999}}), "not_found", {"chat": 999}),
            (lambda: ws.send_json({"unsubscribe": {"chat": chat}}), "not_found", {"command": "unsubscribe"}),
            (lambda: ws.send_frame(BINARY, b"\x00\x01"), "bad_request", {}),
            (lambda: ws.send_frame(TEXT, json.dumps({"send": {"chat": chat, "key": "k", "body": "x" * 70000}})),
             "payload_too_large", {}),
            (lambda: ws.send_json({"send": {"chat": chat, "body": "no key"}}), "invalid_field", {"chat": chat}),
        ]
        for i, (act, code, extra) in enumerate(cases):
            with self.subTest(case=i, code=code):
                act()
                frame = ws.recv_json()
                self.assertEqual(frame["error"]["code"], code, frame)
                self.assertIsInstance(frame["error"]["message"], str)
                for k, v in extra.items():
                    self.assertEqual(frame.get(k), v, frame)
        # A message in fragments is one frame to the parser.
        text = json.dumps({"subscribe": {"chat": chat}})
        ws.send_frame(TEXT, text[:10], fin=False)
        ws.send_frame(CONT, text[10:])
        self.assertEqual(ws.recv_json(), {"subscribed": {"chat": chat, "after": None}})
        ws.send_json({"subscribe": {"chat": chat}})
        self.assertEqual(ws.recv_json()["error"]["code"], "conflict")
        ws.send_frame(PING, b"hello")
        self.assertEqual(ws.recv_frame(), (PONG, b"hello"))
        post(a, token, chat, "still here")
        e = ws.recv_json()
        self.assertEqual((e["number"], e["message"]["body"]), (1, "still here"))
        ws.close()

    def test_send_with_a_key_is_idempotent(self):
        a = Client(api_a.port)
        token = new_app(a)
        chat = new_chat(a, token)
        ws = WebSocket(api_b.port, ws_path(token))
        subscribe(ws, chat)
        ws.send_json({"send": {"chat": chat, "body": "hello", "key": "k-1"}})
        frames = [ws.recv_json(), ws.recv_json()]  # the answer and the event, in either order
        sent = next(f for f in frames if "sent" in f)
        self.assertEqual(sent, {"sent": {"chat": chat, "number": 1, "key": "k-1", "replayed": False}})
        event = next(f for f in frames if "event" in f)
        self.assertEqual((event["number"], event["message"]["body"]), (1, "hello"))
        ws.send_json({"send": {"chat": chat, "body": "hello", "key": "k-1"}})
        self.assertEqual(ws.recv_json(), {"sent": {"chat": chat, "number": 1, "key": "k-1", "replayed": True}})
        # The same key over HTTP is the same request: the POST replays it too.
        status, m, h = a.request("POST", f"/api/v1/apps/{token}/chats/{chat}/messages", {"body": "hello"},
                                 headers={"Idempotency-Key": "k-1"})
        self.assertEqual((status, m["number"], h.get("idempotent-replayed")), (201, 1, "true"))
        ws.send_json({"send": {"chat": chat, "body": "another", "key": "k-1"}})
        err = ws.recv_json()
        self.assertEqual((err["error"]["code"], err["key"], err["chat"]), ("conflict", "k-1", chat))
        ws.send_json({"send": {"chat": chat, "body": "second", "key": "k-2"}})
        frames = [ws.recv_json(), ws.recv_json()]
        self.assertIn({"sent": {"chat": chat, "number": 2, "key": "k-2", "replayed": False}}, frames)
        ws.close()
        status, page, _ = a.request("GET", f"/api/v1/apps/{token}/chats/{chat}/messages/2")
        self.assertEqual((status, page["body"]), (200, "second"))

    def test_another_applications_chats_are_refused(self):
        a = Client(api_a.port)
        mine, theirs = new_app(a), new_app(a)
        my_chat = new_chat(a, mine)
        for _ in range(3):
            their_chat = new_chat(a, theirs)
        ws = WebSocket(api_b.port, ws_path(mine))
        ws.send_json({"subscribe": {"chat": their_chat}})  # chat 3 exists in their application only
        err = ws.recv_json()
        self.assertEqual((err["error"]["code"], err["chat"]), ("not_found", their_chat))
        ws.send_json({"send": {"chat": their_chat, "body": "x", "key": "k"}})
        err = ws.recv_json()
        self.assertEqual((err["error"]["code"], err["command"]), ("not_found", "send"))
        subscribe(ws, my_chat)
        post(a, theirs, my_chat, "their chat 1")  # the same number in the other application
        post(a, mine, my_chat, "mine")
        e = ws.recv_json()
        ws.close()
        self.assertEqual((e["chat"], e["message"]["body"]), (my_chat, "mine"))

    def test_handshake_refusals_are_json(self):
        a = Client(api_a.port)
        token = new_app(a)
        with self.assertRaises(Refused) as r:
            WebSocket(api_a.port, ws_path("NoSuchApplicationToken"))
        self.assertEqual((r.exception.status, r.exception.json()["error"]["code"]), (404, "not_found"))
        status, body, headers = a.request("GET", ws_path(token))  # no handshake: checked against OpenAPI
        self.assertEqual((status, body["error"]["code"]), (426, "upgrade_required"))
        self.assertEqual((headers["upgrade"], headers["sec-websocket-version"]), ("websocket", "13"))
        status, body, _ = a.request("GET", ws_path("NoSuchApplicationToken"))
        self.assertEqual(status, 404)

    def test_open_sockets_are_counted(self):
        a = Client(api_a.port)
        token = new_app(a)
        chat = new_chat(a, token)
        ws = WebSocket(api_a.port, ws_path(token))
        subscribe(ws, chat)

        def gauge(kind):
            text = urllib.request.urlopen(f"http://127.0.0.1:{api_a.port}/metrics", timeout=10).read().decode()
            for line in text.splitlines():
                if line.startswith(f'chat_live_streams_open{{kind="{kind}"}}'):
                    return float(line.split()[-1])
            return 0.0

        self.assertGreaterEqual(gauge("websocket"), 1)
        self.assertGreaterEqual(gauge("websocket_chat"), 1)
        ws.close()


class Closing(unittest.TestCase):
    def test_graceful_shutdown_closes_with_a_close_frame(self):
        a = Client(api_a.port)
        token = new_app(a)
        chat = new_chat(a, token)
        extra = start_api(CHAT_RATE_LIMIT_RPS=0)
        try:
            idle = WebSocket(extra.port, ws_path(token))  # follows no chat: still told
            ws = WebSocket(extra.port, ws_path(token))
            subscribe(ws, chat)
            started = time.time()
            extra.proc.send_signal(signal.SIGTERM)  # not stop(): it waits for the exit, which waits for us
            for s in (ws, idle):
                with self.assertRaises(Closed) as c:
                    s.recv_json()
                self.assertEqual(c.exception.code, 1001)
                self.assertIn("after", c.exception.reason)
            extra.stop()  # exits once the close handshakes are done
            self.assertLess(time.time() - started, 15)
        finally:
            extra.kill()

    def test_a_reader_that_stalls_is_closed_with_a_hint_and_resumes_without_loss(self):
        a = Client(api_a.port)
        token = new_app(a)
        chat = new_chat(a, token)
        extra = start_api(CHAT_RATE_LIMIT_RPS=0, CHAT_LIVE_BUFFER_EVENTS=4)
        try:
            stalled = WebSocket(extra.port, ws_path(token), rcvbuf=4096)
            subscribe(stalled, chat)
            reader = WebSocket(extra.port, ws_path(token))
            subscribe(reader, chat)
            body = "x" * 9000
            dropped = None
            for i in range(1, 2001):
                post(a, token, chat, f"{i} {body}")
                # The reader keeps receiving while the other one is stalled.
                e = reader.recv_json()
                self.assertEqual(e["number"], i)
                if i % 20 == 0 and dropped_total(extra.port) >= 1:
                    dropped = i
                    break
            self.assertIsNotNone(dropped, "the stalled reader was never dropped")
            # Now read what reached the stalled socket: events in order, then the close frame.
            seen = []
            with self.assertRaises(Closed) as c:
                while True:
                    seen.append(stalled.recv_json()["number"])
            self.assertEqual(c.exception.code, 1008)
            self.assertIn("after", c.exception.reason)
            self.assertEqual(seen, list(range(1, len(seen) + 1)))
            # Resumed with after = the last number received, nothing is missed.
            again = WebSocket(api_b.port, ws_path(token))
            subscribe(again, chat, after=seen[-1] if seen else 0)
            rest = [e["number"] for e in events(again, dropped - len(seen))]
            self.assertEqual(rest, list(range(len(seen) + 1, dropped + 1)))
            again.close()
            reader.close()
        finally:
            extra.kill()


def dropped_total(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith("chat_live_subscribers_dropped_total"):
            return float(line.split()[-1])
    return 0.0


if __name__ == "__main__":
    unittest.main()
