"""Live delivery against the real stack: SSE streams replayed then live, across two API servers (the
fan-out goes through Redis pub/sub), resumed with Last-Event-ID after the server a client was attached
to died, edits as message.updated, long polls and history in both directions."""
import concurrent.futures
import http.client
import json
import time
import unittest

from harness import Client, start_api, start_worker, unique

procs = []
api_a = api_b = None


def setUpModule():
    global api_a, api_b
    api_a = start_api(CHAT_RATE_LIMIT_RPS=0, CHAT_LIVE_HEARTBEAT_MS=1000)
    api_b = start_api(CHAT_RATE_LIMIT_RPS=0, CHAT_LIVE_HEARTBEAT_MS=1000)
    procs.extend([api_a, api_b, start_worker()])


def tearDownModule():
    for p in procs:
        p.stop()


class Sse:
    """A text/event-stream client: events as dicts {id, event, data}; comments are counted."""

    def __init__(self, port, path, headers=None, timeout=10):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.conn.request("GET", path, headers=headers or {})
        self.resp = self.conn.getresponse()
        self.comments = 0

    def next_event(self):
        event = {}
        while True:
            line = self.resp.readline()
            if not line:
                return None  # the stream ended
            line = line.decode().rstrip("\r\n")
            if line == "":
                if "data" in event:
                    return event
                event = {}
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            name, _, value = line.partition(":")
            event[name] = value[1:] if value.startswith(" ") else value

    def messages(self, count):
        out = []
        while len(out) < count:
            e = self.next_event()
            if e is None:
                break
            out.append(e)
        return out

    def close(self):
        # The response holds its own reference to the socket: close both, or the server never sees the
        # client leave.
        self.resp.close()
        self.conn.close()


def new_chat(c):
    status, app, _ = c.request("POST", "/api/v1/apps", {"name": unique()})
    assert status == 201, app
    token = app["token"]
    status, chat, _ = c.request("POST", f"/api/v1/apps/{token}/chats")
    assert status == 201, chat
    return token, chat["number"]


def post(c, token, chat, body):
    status, m, _ = c.request("POST", f"/api/v1/apps/{token}/chats/{chat}/messages", {"body": body})
    assert status == 201, (status, m)
    return m["number"]


def stream_path(token, chat, after=None):
    return f"/api/v1/apps/{token}/chats/{chat}/stream" + ("" if after is None else f"?after={after}")


class Streams(unittest.TestCase):
    def test_replay_then_live_across_servers_without_gap_or_duplicate(self):
        a, b = Client(api_a.port), Client(api_b.port)
        token, chat = new_chat(a)
        for i in range(5):
            post(a, token, chat, f"before {i}")
        s = Sse(api_b.port, stream_path(token, chat, after=2))
        self.assertEqual(s.resp.status, 200)
        self.assertEqual(s.resp.getheader("Content-Type"), "text/event-stream")

        def writer(port, n):
            c = Client(port)
            return [post(c, token, chat, f"live {port} {i}") for i in range(n)]

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(writer, p, 10) for p in (api_a.port, api_b.port, api_a.port, api_b.port)]
            created = sorted(n for f in futures for n in f.result())
        self.assertEqual(created, list(range(6, 46)))
        events = s.messages(43)
        s.close()
        numbers = [int(e["id"]) for e in events]
        self.assertEqual(numbers, list(range(3, 46)))
        self.assertTrue(all(e["event"] == "message.created" for e in events))
        # data is the message exactly as GET returns it
        status, got, _ = a.request("GET", f"/api/v1/apps/{token}/chats/{chat}/messages/4")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(events[1]["data"]), got)

    def test_starts_live_without_a_resume_point(self):
        a = Client(api_a.port)
        token, chat = new_chat(a)
        post(a, token, chat, "old")
        s = Sse(api_b.port, stream_path(token, chat))
        time.sleep(0.2)
        post(a, token, chat, "new")
        e = s.next_event()
        s.close()
        self.assertEqual(e["id"], "2")
        self.assertEqual(json.loads(e["data"])["body"], "new")

    def test_last_event_id_wins_and_edits_arrive_as_updates(self):
        a = Client(api_a.port)
        token, chat = new_chat(a)
        for i in range(3):
            post(a, token, chat, f"m{i}")
        s = Sse(api_a.port, stream_path(token, chat, after=0), headers={"Last-Event-ID": "1"})
        first = s.messages(2)
        self.assertEqual([e["id"] for e in first], ["2", "3"])
        # Wait until message 2 is stored (edits need the row), then edit it through the other server.
        b = Client(api_b.port)
        deadline = time.time() + 120  # the worker may be behind on a loaded machine; ends once stored
        while True:
            status, _, _ = b.request("PUT", f"/api/v1/apps/{token}/chats/{chat}/messages/2", {"body": "edited"})
            if status == 200 or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(status, 200)
        e = s.next_event()
        s.close()
        self.assertEqual(e["event"], "message.updated")
        self.assertNotIn("id", e)  # Last-Event-ID keeps naming the last creation
        self.assertEqual(json.loads(e["data"])["body"], "edited")

    def test_never_carries_another_chats_messages(self):
        a = Client(api_a.port)
        token, chat = new_chat(a)
        other_token, other_chat = new_chat(a)
        status, chat2, _ = a.request("POST", f"/api/v1/apps/{token}/chats")
        s = Sse(api_b.port, stream_path(token, chat, after=0))
        post(a, other_token, other_chat, "other app")
        post(a, token, chat2["number"], "other chat")
        post(a, token, chat, "mine")
        e = s.next_event()
        s.close()
        self.assertEqual(json.loads(e["data"])["body"], "mine")
        self.assertEqual(json.loads(e["data"])["chat_number"], chat)

    def test_heartbeat_comments(self):
        a = Client(api_a.port)
        token, chat = new_chat(a)
        s = Sse(api_a.port, stream_path(token, chat))
        time.sleep(2.5)
        post(a, token, chat, "after the silence")
        e = s.next_event()
        s.close()
        self.assertEqual(e["id"], "1")
        self.assertGreaterEqual(s.comments, 1)

    def test_errors_before_the_stream(self):
        a = Client(api_a.port)
        token, chat = new_chat(a)
        cases = [
            (stream_path("nosuchtoken", 1), {}, 404),
            (stream_path(token, 99), {}, 404),
            (stream_path(token, chat) + "?after=x", {}, 422),
            (stream_path(token, chat), {"Last-Event-ID": "abc"}, 400),
            (stream_path(token, 0), {}, 400),
        ]
        for path, headers, status in cases:
            with self.subTest(path=path, headers=headers):
                conn = http.client.HTTPConnection("127.0.0.1", api_b.port, timeout=10)
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                self.assertEqual(r.status, status)
                self.assertIn("error", json.loads(r.read()))
                conn.close()


class Resume(unittest.TestCase):
    def test_resume_on_the_other_server_after_a_kill(self):
        a = Client(api_a.port)
        token, chat = new_chat(a)
        extra = start_api(CHAT_RATE_LIMIT_RPS=0)
        try:
            s = Sse(extra.port, stream_path(token, chat, after=0))
            for i in range(5):
                post(a, token, chat, f"m{i}")
            seen = [int(e["id"]) for e in s.messages(5)]
            extra.kill()  # SIGKILL: the stream breaks mid-way
            for i in range(5):
                post(a, token, chat, f"n{i}")
            s.close()
            s = Sse(api_b.port, stream_path(token, chat), headers={"Last-Event-ID": str(seen[-1])})
            seen += [int(e["id"]) for e in s.messages(5)]
            s.close()
            self.assertEqual(seen, list(range(1, 11)))
        finally:
            extra.kill()

    def test_graceful_shutdown_ends_streams_cleanly(self):
        a = Client(api_a.port)
        token, chat = new_chat(a)
        extra = start_api(CHAT_RATE_LIMIT_RPS=0)
        s = Sse(extra.port, stream_path(token, chat))
        time.sleep(0.2)
        started = time.time()
        extra.stop()  # SIGTERM
        e = s.next_event()
        self.assertEqual(e["event"], "error")
        self.assertEqual(json.loads(e["data"])["error"]["code"], "shutting_down")
        self.assertIsNone(s.next_event())  # and the stream ends
        self.assertLess(time.time() - started, 10)
        s.close()


class LongPollAndHistory(unittest.TestCase):
    def test_long_poll_answers_when_a_message_arrives(self):
        a, b = Client(api_a.port), Client(api_b.port)
        token, chat = new_chat(a)
        post(a, token, chat, "one")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            started = time.time()
            fut = pool.submit(b.request, "GET", f"/api/v1/apps/{token}/chats/{chat}/messages?after=1&wait=20")
            time.sleep(0.5)
            post(a, token, chat, "two")
            status, page, _ = fut.result()
        self.assertEqual(status, 200)
        self.assertEqual([m["number"] for m in page["messages"]], [2])
        self.assertLess(time.time() - started, 15)

    def test_long_poll_is_empty_at_the_deadline(self):
        a = Client(api_a.port)
        token, chat = new_chat(a)
        started = time.time()
        status, page, _ = a.request("GET", f"/api/v1/apps/{token}/chats/{chat}/messages?after=0&wait=1")
        self.assertEqual(status, 200)
        self.assertEqual(page["messages"], [])
        self.assertGreaterEqual(time.time() - started, 0.9)

    def test_before_and_around(self):
        a = Client(api_a.port)
        token, chat = new_chat(a)
        for i in range(10):
            post(a, token, chat, f"m{i + 1}")
        base = f"/api/v1/apps/{token}/chats/{chat}/messages"
        deadline = time.time() + 120  # the worker may be behind on a loaded machine; ends once stored
        while True:  # history reads what is stored
            status, page, _ = a.request("GET", base + "?limit=100")
            if len(page["messages"]) == 10 or time.time() > deadline:
                break
            time.sleep(0.2)
        status, page, _ = a.request("GET", base + "?before=latest&limit=4")
        self.assertEqual(status, 200)
        self.assertEqual([m["number"] for m in page["messages"]], [7, 8, 9, 10])
        self.assertEqual(page["next_before"], 7)
        status, page, _ = a.request("GET", base + "?before=7&limit=4")
        self.assertEqual([m["number"] for m in page["messages"]], [3, 4, 5, 6])
        status, page, _ = a.request("GET", base + "?before=3&limit=4")
        self.assertEqual([m["number"] for m in page["messages"]], [1, 2])
        self.assertIsNone(page["next_before"])
        status, page, _ = a.request("GET", base + "?around=5&limit=5")
        self.assertEqual([m["number"] for m in page["messages"]], [3, 4, 5, 6, 7])
        for bad in ("?before=0", "?around=x", "?after=1&before=5", "?before=5&wait=3", "?wait=61"):
            with self.subTest(query=bad):
                status, err, _ = a.request("GET", base + bad)
                self.assertEqual(status, 422, err)


if __name__ == "__main__":
    unittest.main()
