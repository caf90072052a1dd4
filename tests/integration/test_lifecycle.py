"""Message lifecycle against the real stack, through two API servers and a worker: deleting a message
erases it from MariaDB, Elasticsearch and its edit history, and nothing brings it back whatever the
order (a delete before the creation is stored, a redelivered creation, a late edit, a delete while
search is unreachable, a reindex); edit history; read markers with exact unread counts; deleting a
chat; erasing a user; retention. The worker reaches Elasticsearch through a FaultProxy, so an outage
starts and ends at once without restarting the engine."""
import json
import os
import signal
import time
import unittest
import urllib.parse
import urllib.request

import jwt

from faultproxy import FaultProxy
from harness import Client, app_id, ctl, redis_cli, sql, start_api, start_worker, unique, wait_until
from test_live import Sse
from wsclient import WebSocket

ES_URL = os.environ.get("CHAT_ES_URL", "http://127.0.0.1:19201")
procs = []
api_a = api_b = worker = proxy = None


def setUpModule():
    global api_a, api_b, worker, proxy
    settings = dict(CHAT_LIVE_HEARTBEAT_MS=1000, CHAT_RATE_LIMIT_RPS=0, CHAT_USER_RATE_LIMIT_RPS=0)
    api_a = start_api(**settings)
    api_b = start_api(**settings)
    es = urllib.parse.urlparse(ES_URL)
    proxy = FaultProxy(es.hostname, es.port)
    worker = start_worker(CHAT_ES_URL=proxy.url(), CHAT_ERASURE_INTERVAL_MS=200, CHAT_RETENTION_INTERVAL_S=1,
                          CHAT_COUNT_REFRESH_INTERVAL_S=1)
    procs.extend([api_a, api_b, worker])


def tearDownModule():
    for p in procs:
        p.stop()
    proxy.stop()


def auth(credential):
    return {"Authorization": f"Bearer {credential}"}


def mint(secret, sub):
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now - 1, "exp": now + 600}, secret, algorithm="HS256")


class App:
    """An application with its secret; restricted on request."""

    def __init__(self, restricted=False):
        self.a, self.b = Client(api_a.port), Client(api_b.port)
        s, app, _ = self.a.request("POST", "/api/v1/apps", {"name": unique()})
        assert s == 201, app
        self.token, self.secret = app["token"], app["secret"]
        if restricted:
            s, out, _ = self.as_secret("PUT", "", {"access": "restricted"})
            assert s == 200, out

    def path(self, rest=""):
        return f"/api/v1/apps/{self.token}{rest}"

    def call(self, method, rest, body=None, credential=None, server=None):
        c = server or self.a
        return c.request(method, self.path(rest), body, headers=auth(credential) if credential else None)

    def as_secret(self, method, rest, body=None, server=None):
        return self.call(method, rest, body, self.secret, server)

    def chat(self, credential=None):
        s, chat, _ = self.call("POST", "/chats", credential=credential)
        assert s == 201, chat
        return chat["number"]

    def send(self, chat, body, credential=None):
        s, m, _ = self.call("POST", f"/chats/{chat}/messages", {"body": body}, credential)
        assert s == 201, m
        return m["number"]

    def stored(self, chat, number):
        rows = sql(f"SELECT body, deleted_at FROM messages WHERE application_id = {app_id(self.token)} "
                   f"AND chat_number = {chat} AND number = {number}")
        return rows[0] if rows else None

    def found(self, chat, word):
        s, page, _ = self.as_secret("GET", f"/chats/{chat}/messages/search?q={word}")
        assert s == 200, page
        return [h["number"] for h in page["hits"]]


def es_bodies(token, chat, number):
    """The bodies Elasticsearch holds for a message (every document of it, whatever its terms)."""
    query = {"query": {"bool": {"filter": [{"term": {"app_id": app_id(token)}}, {"term": {"chat_number": chat}},
                                           {"term": {"number": number}}]}}}
    req = urllib.request.Request(f"{ES_URL}/messages/_search", data=json.dumps(query).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return [h["_source"].get("body", "") for h in json.load(r)["hits"]["hits"]]


def erased_everywhere(app, chat, number):
    row = app.stored(chat, number)
    history = sql(f"SELECT COUNT(*) FROM message_versions WHERE application_id = {app_id(app.token)} "
                  f"AND chat_number = {chat} AND number = {number}")[0][0]
    return (row is not None and row[0] == "" and row[1] is not None and history == "0"
            and all(b == "" for b in es_bodies(app.token, chat, number)))


class DeleteMessage(unittest.TestCase):
    def test_a_deleted_message_is_erased_everywhere_and_leaves_a_tombstone(self):
        app = App()
        chat = app.chat()
        first = app.send(chat, "alpha zebracorn")
        app.send(chat, "beta words")
        wait_until(lambda: app.found(chat, "zebracorn") == [first], what="indexed")
        for body in ("alpha zebracorn edited", "alpha zebracorn twice"):
            self.assertEqual(app.call("PUT", f"/chats/{chat}/messages/{first}", {"body": body})[0], 200)
        s, versions, _ = app.call("GET", f"/chats/{chat}/messages/{first}/versions")
        self.assertEqual(s, 200)
        self.assertEqual([(v["version"], v["body"]) for v in versions["versions"]],
                         [(1, "alpha zebracorn"), (2, "alpha zebracorn edited"), (3, "alpha zebracorn twice")])
        s, m, _ = app.call("GET", f"/chats/{chat}/messages/{first}")
        self.assertEqual((m["version"], m["edited_at"] is not None, m["deleted_at"]), (3, True, None))

        self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{first}")[0], 204)
        # At once, on both servers: 410, and a tombstone in its place in the list.
        for server in (app.a, app.b):
            s, err, _ = app.call("GET", f"/chats/{chat}/messages/{first}", server=server)
            self.assertEqual((s, err["error"]["code"]), (410, "gone"))
        s, page, _ = app.call("GET", f"/chats/{chat}/messages")
        self.assertEqual([m["number"] for m in page["messages"]], [1, 2])
        tomb = page["messages"][0]
        self.assertIsNone(tomb["body"])
        self.assertIsNotNone(tomb["deleted_at"])
        self.assertEqual(page["messages"][1]["body"], "beta words")
        self.assertEqual(app.call("GET", f"/chats/{chat}/messages/{first}/versions")[0], 410)
        self.assertEqual(app.call("PUT", f"/chats/{chat}/messages/{first}", {"body": "back?"})[0], 410)
        # Erased from MariaDB (body and history) and from the index.
        wait_until(lambda: erased_everywhere(app, chat, first), what="erased everywhere")
        self.assertEqual(app.found(chat, "zebracorn"), [])
        # Idempotent, and the number is never reused.
        self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{first}")[0], 204)
        self.assertEqual(app.send(chat, "gamma"), 3)
        # messages_count counts the messages not deleted.
        wait_until(lambda: app.call("GET", f"/chats/{chat}")[1]["messages_count"] == 2, what="count")

    def test_only_the_sender_or_the_application_deletes(self):
        app = App(restricted=True)
        ann, bob, carol = (mint(app.secret, u) for u in ("ann", "bob", "carol"))
        chat = app.chat(ann)
        self.assertEqual(app.as_secret("PUT", f"/chats/{chat}/members/bob")[0], 200)
        by_ann = app.send(chat, "from ann", ann)
        by_bob = app.send(chat, "from bob", bob)
        s, err, _ = app.call("DELETE", f"/chats/{chat}/messages/{by_ann}", credential=bob)
        self.assertEqual((s, err["error"]["code"]), (403, "forbidden"))
        self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{by_ann}", credential=carol)[0], 404)
        self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{by_ann}")[0], 401)
        self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{by_ann}", credential=ann)[0], 204)
        self.assertEqual(app.as_secret("DELETE", f"/chats/{chat}/messages/{by_bob}")[0], 204)
        self.assertEqual(app.call("GET", f"/chats/{chat}/messages/{by_bob}", credential=bob)[0], 410)


class NothingComesBack(unittest.TestCase):
    """The orders of issue 7: each one leaves the deleted body nowhere."""

    def test_a_delete_issued_before_the_creation_is_stored(self):
        app = App()
        chat = app.chat()
        wait_until(lambda: sql(f"SELECT COUNT(*) FROM chats WHERE application_id = {app_id(app.token)}")[0][0] == "1",
                   what="chat stored")
        worker.proc.send_signal(signal.SIGSTOP)  # the creation waits in the queue
        try:
            number = app.send(chat, "queued quokkaword")
            s, pending, _ = app.call("GET", f"/chats/{chat}/messages/{number}")
            self.assertEqual(s, 200)  # read-your-writes
            self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{number}")[0], 204)
            self.assertEqual(app.call("GET", f"/chats/{chat}/messages/{number}", server=app.b)[0], 410)
            self.assertIsNone(app.stored(chat, number))
        finally:
            worker.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: erased_everywhere(app, chat, number), what="tombstone stored")
        self.assertEqual(app.found(chat, "quokkaword"), [])
        self.assertEqual(app.call("GET", f"/chats/{chat}/messages/{number}")[0], 410)
        # The tombstone keeps the message's creation time (retention and history order by it).
        tomb = app.call("GET", f"/chats/{chat}/messages")[1]["messages"][0]
        self.assertEqual((tomb["number"], tomb["created_at"], tomb["body"]), (number, pending["created_at"], None))

    def test_a_redelivered_creation_after_the_delete(self):
        app = App()
        chat = app.chat()
        number = app.send(chat, "redelivered wombatword")
        wait_until(lambda: app.stored(chat, number) is not None, what="stored")
        creation_id = sql(f"SELECT creation_id, UNIX_TIMESTAMP(created_at) * 1000 FROM messages WHERE "
                          f"application_id = {app_id(app.token)} AND chat_number = {chat} AND number = {number}")[0]
        self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{number}")[0], 204)
        wait_until(lambda: erased_everywhere(app, chat, number), what="deleted")
        # The same creation once more, as a redelivery brings it.
        ctl("publish", json.dumps({"type": "message.created", "app_id": int(app_id(app.token)), "token": app.token,
                                   "chat_number": chat, "number": number, "body": "redelivered wombatword",
                                   "creation_id": creation_id[0], "created_at": int(float(creation_id[1]))}))
        marker = app.send(chat, "after the redelivery")  # queued behind it: once stored, so is the replay
        wait_until(lambda: app.stored(chat, marker) is not None, what="later message stored")
        self.assertTrue(erased_everywhere(app, chat, number))
        self.assertEqual(app.found(chat, "wombatword"), [])
        self.assertEqual(ctl("dead-letters"), ctl("dead-letters"))  # (nothing to assert but no crash)

    def test_a_delete_while_search_is_unreachable_and_the_catch_up_after_it(self):
        app = App()
        chat = app.chat()
        indexed = app.send(chat, "indexed koalaword")
        wait_until(lambda: app.found(chat, "koalaword") == [indexed], what="indexed")
        proxy.cut()
        try:
            self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{indexed}")[0], 204)
            # Created and deleted during the outage too.
            during = app.send(chat, "outage dingoword")
            self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{during}")[0], 204)
            wait_until(lambda: (app.stored(chat, indexed) or [None, None])[1] is not None
                       and (app.stored(chat, during) or [None, None])[1] is not None, what="tombstones stored")
            # Left to the catch-up (recorded once the worker's _bulk failed, after its transaction).
            wait_until(lambda: sql(f"SELECT COUNT(*) FROM index_outbox WHERE application_id = "
                                   f"{app_id(app.token)}")[0][0] != "0", what="outbox entries")
            self.assertNotEqual(app.found(chat, "koalaword"), [])  # the index still has the old document
        finally:
            proxy.restore()
        wait_until(lambda: erased_everywhere(app, chat, indexed) and erased_everywhere(app, chat, during),
                   what="catch-up wrote the tombstones")
        self.assertEqual(app.found(chat, "koalaword"), [])
        self.assertEqual(app.found(chat, "dingoword"), [])

    def test_a_late_edit_and_a_reindex(self):
        app = App()
        chat = app.chat()
        number = app.send(chat, "reindexed lemurword")
        wait_until(lambda: app.stored(chat, number) is not None, what="stored")
        self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{number}")[0], 204)
        s, err, _ = app.call("PUT", f"/chats/{chat}/messages/{number}", {"body": "lemurword again"}, server=app.b)
        self.assertEqual((s, err["error"]["code"]), (410, "gone"))
        wait_until(lambda: erased_everywhere(app, chat, number), what="deleted")
        ctl("reindex", CHAT_REINDEX_SETTLE_MS="200")
        self.assertTrue(erased_everywhere(app, chat, number))
        self.assertEqual(app.found(chat, "lemurword"), [])


class Live(unittest.TestCase):
    def test_streams_hear_deletions_markers_and_the_end_of_their_chat(self):
        app = App(restricted=True)
        ann = mint(app.secret, "ann")
        chat = app.chat(ann)
        first = app.send(chat, "one", ann)
        stream = Sse(api_b.port, app.path(f"/chats/{chat}/stream?after=0&access_token={ann}"), timeout=15)
        try:
            self.assertEqual(stream.resp.status, 200)
            created = stream.next_event()
            self.assertEqual((created["event"], created["id"]), ("message.created", str(first)))
            self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{first}", credential=ann)[0], 204)
            deleted = stream.next_event()
            self.assertEqual(deleted["event"], "message.deleted")
            data = json.loads(deleted["data"])
            self.assertEqual((data["number"], data["body"]), (first, None))
            self.assertNotIn("id", deleted)  # the slot was delivered already
            # Sent with the secret: ann has not read it (her own messages she has).
            second = app.send(chat, "two", app.secret)
            self.assertEqual(stream.next_event()["id"], str(second))
            self.assertEqual(app.call("PUT", f"/chats/{chat}/read", {"number": second}, ann)[0], 200)
            read = stream.next_event()
            self.assertEqual(read["event"], "read.updated", read)
            self.assertEqual(json.loads(read["data"]), {"chat_number": chat, "user": "ann", "last_read": second})
            self.assertEqual(app.as_secret("DELETE", f"/chats/{chat}")[0], 204)
            end = stream.next_event()
            self.assertEqual(end["event"], "chat.deleted")
            self.assertIsNone(stream.next_event())  # the stream ended
        finally:
            stream.close()

    def test_a_socket_hears_deletions_markers_and_the_end_of_its_chat(self):
        app = App(restricted=True)
        ann = mint(app.secret, "ann")
        chat = app.chat(ann)
        first = app.send(chat, "one", app.secret)  # not ann's own: she has yet to read it
        ws = WebSocket(api_a.port, app.path(f"/ws?access_token={ann}"))
        try:
            ws.send_json({"subscribe": {"chat": chat, "after": 0}})
            self.assertEqual(ws.recv_json(), {"subscribed": {"chat": chat, "after": 0}})
            self.assertEqual(ws.recv_json()["event"], "message.created")
            self.assertEqual(app.as_secret("DELETE", f"/chats/{chat}/messages/{first}", server=app.b)[0], 204)
            frame = ws.recv_json()
            self.assertEqual((frame["event"], frame["chat"], frame["number"]), ("message.deleted", chat, first))
            self.assertIsNone(frame["message"]["body"])
            self.assertEqual(app.call("PUT", f"/chats/{chat}/read", {"number": first}, ann)[0], 200)
            frame = ws.recv_json()
            self.assertEqual(frame, {"event": "read.updated", "chat": chat,
                                     "read": {"chat_number": chat, "user": "ann", "last_read": first}})
            self.assertEqual(app.as_secret("DELETE", f"/chats/{chat}")[0], 204)
            frame = ws.recv_json()
            self.assertEqual((frame["event"], frame["chat"]), ("chat.deleted", chat))
            # The subscription is gone with the chat; the socket stays open for the others.
            ws.send_json({"unsubscribe": {"chat": chat}})
            self.assertEqual(ws.recv_json()["error"]["code"], "not_found")
        finally:
            ws.close()

    def test_a_stream_replays_a_deleted_message_as_its_tombstone(self):
        app = App()
        chat = app.chat()
        first = app.send(chat, "gone soon")
        second = app.send(chat, "kept")
        self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{first}")[0], 204)
        stream = Sse(api_a.port, app.path(f"/chats/{chat}/stream?after=0"), timeout=15)
        try:
            events = stream.messages(2)
            self.assertEqual([(e["event"], e["id"]) for e in events],
                             [("message.deleted", str(first)), ("message.created", str(second))])
            self.assertIsNone(json.loads(events[0]["data"])["body"])
        finally:
            stream.close()
        # A long poll shows the tombstone too.
        s, page, _ = app.call("GET", f"/chats/{chat}/messages?after=0&wait=1")
        self.assertEqual([(m["number"], m["body"]) for m in page["messages"]], [(first, None), (second, "kept")])


class ReadState(unittest.TestCase):
    def test_markers_move_forward_and_unread_is_exact(self):
        app = App(restricted=True)
        ann, bob = mint(app.secret, "ann"), mint(app.secret, "bob")
        chat = app.chat(ann)
        self.assertEqual(app.as_secret("PUT", f"/chats/{chat}/members/bob")[0], 200)
        numbers = [app.send(chat, f"m{i}", bob) for i in range(5)]

        def state(who, server=None):
            s, c, _ = app.call("GET", f"/chats/{chat}", credential=who, server=server)
            assert s == 200, c
            return c["last_read"], c["unread"]

        self.assertEqual(state(ann), (0, 5))
        s, moved, _ = app.call("PUT", f"/chats/{chat}/read", {"number": 2}, ann)
        self.assertEqual((s, moved["last_read"], moved["unread"]), (200, 2, 3))
        s, same, _ = app.call("PUT", f"/chats/{chat}/read", {"number": 1}, ann, server=app.b)
        self.assertEqual((s, same["last_read"]), (200, 2))  # lower: accepted, nothing moves
        s, err, _ = app.call("PUT", f"/chats/{chat}/read", {"number": 99}, ann)
        self.assertEqual((s, err["error"]["code"]), (422, "invalid_field"))
        for bad in ({}, {"number": -1}, {"number": "2"}, {"number": 1.5}):
            self.assertEqual(app.call("PUT", f"/chats/{chat}/read", bad, ann)[0], 422, bad)
        # A deleted message above the marker is not unread; one below changes nothing.
        self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{numbers[3]}", credential=bob)[0], 204)
        self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{numbers[0]}", credential=bob)[0], 204)
        self.assertEqual(state(ann, app.b), (2, 2))
        # (The list reads MariaDB, where the chat and its membership are once the worker stored them.)
        listing = wait_until(lambda: app.call("GET", "/chats", credential=ann)[1]["chats"] and
                             app.call("GET", "/chats", credential=ann)[1], what="listed")
        self.assertEqual([(c["number"], c["last_read"], c["unread"]) for c in listing["chats"]], [(chat, 2, 2)])
        self.assertEqual(state(bob), (5, 0))  # a user has read what it sent
        self.assertEqual(app.call("PUT", f"/chats/{chat}/read", {"number": 5}, bob)[0], 200)
        s, seen, _ = app.call("GET", f"/chats/{chat}/read", credential=ann)
        self.assertEqual(seen["markers"], [{"user": "ann", "last_read": 2}, {"user": "bob", "last_read": 5}])
        # A marker is a user's: the secret has none, and no marker appears in its views.
        self.assertEqual(app.as_secret("PUT", f"/chats/{chat}/read", {"number": 1})[0], 403)
        self.assertNotIn("unread", app.as_secret("GET", f"/chats/{chat}")[1])
        # MariaDB keeps a copy (what Redis is recovered from).
        wait_until(lambda: sql(f"SELECT user_id, number FROM read_markers WHERE application_id = "
                               f"{app_id(app.token)} ORDER BY user_id") == [["ann", "2"], ["bob", "5"]],
                   what="markers stored")


class DeleteChat(unittest.TestCase):
    def test_a_deleted_chat_is_gone_with_its_messages_and_its_number(self):
        app = App()
        chat = app.chat()
        numbers = [app.send(chat, f"chatgone platypusword {i}") for i in range(3)]
        other = app.chat()
        app.send(other, "other platypusword")
        wait_until(lambda: len(app.found(chat, "platypusword")) == 3, what="indexed")
        user = mint(app.secret, "ann")
        self.assertEqual(app.call("DELETE", f"/chats/{chat}", credential=user)[0], 403)
        self.assertEqual(app.call("DELETE", f"/chats/{chat}")[0], 204)  # open: the token alone
        for server in (app.a, app.b):
            self.assertEqual(app.call("GET", f"/chats/{chat}", server=server)[0], 404)
            self.assertEqual(app.call("GET", f"/chats/{chat}/messages", server=server)[0], 404)
        s, err, _ = app.call("POST", f"/chats/{chat}/messages", {"body": "into the void"})
        self.assertEqual(s, 404, err)
        self.assertEqual(app.call("DELETE", f"/chats/{chat}")[0], 404)
        # Lists read MariaDB: the chat leaves them once the worker stored its deletion.
        wait_until(lambda: chat not in [c["number"] for c in app.call("GET", "/chats")[1]["chats"]], what="unlisted")
        self.assertEqual(app.chat(), other + 1)  # never reused
        wait_until(lambda: all(erased_everywhere(app, chat, n) for n in numbers), what="messages erased")
        self.assertEqual(app.found(other, "platypusword"), [1])


class EraseUser(unittest.TestCase):
    def test_a_user_is_erased_everywhere_in_the_background(self):
        app = App(restricted=True)
        ann, bob = mint(app.secret, "ann"), mint(app.secret, "bob")
        first = app.chat(ann)
        second = app.chat(bob)
        self.assertEqual(app.as_secret("PUT", f"/chats/{first}/members/bob")[0], 200)
        self.assertEqual(app.as_secret("PUT", f"/chats/{second}/members/ann")[0], 200)
        by_ann = [(first, app.send(first, f"ann echidnaword {i}", ann)) for i in range(3)]
        by_ann.append((second, app.send(second, "ann in bob's echidnaword", ann)))
        by_bob = app.send(first, "bob echidnaword", bob)
        wait_until(lambda: app.stored(first, by_ann[0][1]) is not None, what="stored")
        self.assertEqual(app.call("PUT", f"/chats/{first}/messages/{by_ann[0][1]}", {"body": "ann edited echidnaword"},
                                  ann)[0], 200)
        self.assertEqual(app.call("PUT", f"/chats/{first}/read", {"number": 2}, ann)[0], 200)
        self.assertEqual(app.call("DELETE", "/users/ann", credential=bob)[0], 403)
        s, job, _ = app.as_secret("DELETE", "/users/ann")
        self.assertEqual((s, job["status"], job["user"]), (202, "queued", "ann"))
        # Its tokens go at once, on every server.
        self.assertEqual(app.call("GET", f"/chats/{first}", credential=ann, server=app.b)[0], 401)

        def done():
            s, status, _ = app.as_secret("GET", "/users/ann/erasure", server=app.b)
            return s == 200 and status["status"] == "done" and status
        status = wait_until(done, what="erasure done")
        self.assertEqual(status["erased_messages"], 4)
        # Done means MariaDB holds the tombstones; the index follows through the catch-up.
        wait_until(lambda: all(erased_everywhere(app, c, n) for c, n in by_ann), what="erased everywhere")
        for chat, number in by_ann:
            self.assertEqual(app.as_secret("GET", f"/chats/{chat}/messages/{number}")[0], 410)
        self.assertEqual(app.stored(first, by_bob)[0], "bob echidnaword")
        wait_until(lambda: app.found(first, "echidnaword") == [by_bob], what="only bob's found")
        self.assertEqual(sql(f"SELECT COUNT(*) FROM read_markers WHERE application_id = {app_id(app.token)} "
                             "AND user_id = 'ann'")[0][0], "0")
        s, members, _ = app.as_secret("GET", f"/chats/{first}/members")
        self.assertEqual([m["user"] for m in members["members"]], ["bob"])
        s, seen, _ = app.as_secret("GET", f"/chats/{first}/read")
        self.assertEqual(seen["markers"], [{"user": "bob", "last_read": by_bob}])
        self.assertEqual(app.as_secret("GET", "/users/nobody/erasure")[0], 404)


class Recovery(unittest.TestCase):
    def test_a_loss_of_redis_keeps_deletions_markers_and_unread_counts(self):
        app = App(restricted=True)
        ann, bob = mint(app.secret, "ann"), mint(app.secret, "bob")
        chat = app.chat(ann)
        self.assertEqual(app.as_secret("PUT", f"/chats/{chat}/members/bob")[0], 200)
        numbers = [app.send(chat, f"r{i}", bob) for i in range(4)]
        self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{numbers[2]}", credential=bob)[0], 204)
        self.assertEqual(app.call("PUT", f"/chats/{chat}/read", {"number": 1}, ann)[0], 200)
        gone = app.chat(ann)
        self.assertEqual(app.as_secret("DELETE", f"/chats/{gone}")[0], 204)
        before = app.call("GET", f"/chats/{chat}", credential=ann)[1]
        self.assertEqual((before["last_read"], before["unread"]), (1, 2))
        wait_until(lambda: sql(f"SELECT COUNT(*) FROM read_markers WHERE application_id = {app_id(app.token)}")
                   == [["2"]] and (app.stored(chat, numbers[2]) or [None, None])[1] is not None
                   and sql(f"SELECT COUNT(*) FROM chats WHERE application_id = {app_id(app.token)} "
                           "AND deleted_at IS NOT NULL") == [["1"]], what="stored")
        redis_cli("FLUSHALL")  # Redis loses markers, deleted sets and counters alike

        def recovered():
            s, c, _ = app.call("GET", f"/chats/{chat}", credential=ann)
            return s == 200 and (c["last_read"], c["unread"]) == (1, 2)
        wait_until(recovered, timeout=120, what="read state recovered")
        self.assertEqual(app.call("GET", f"/chats/{chat}/messages/{numbers[2]}", credential=ann)[0], 410)
        self.assertEqual(app.as_secret("GET", f"/chats/{gone}")[0], 404)
        self.assertEqual(app.call("POST", f"/chats/{gone}/messages", {"body": "x"}, ann)[0], 404)
        s, seen, _ = app.call("GET", f"/chats/{chat}/read", credential=bob)
        self.assertEqual(seen["markers"], [{"user": "ann", "last_read": 1}, {"user": "bob", "last_read": 4}])


class Retention(unittest.TestCase):
    def test_messages_older_than_the_retention_are_erased(self):
        app = App()
        chat = app.chat()
        old = [app.send(chat, f"ancient dodoword {i}") for i in range(2)]
        fresh = app.send(chat, "fresh dodoword")
        wait_until(lambda: len(app.found(chat, "dodoword")) == 3, what="indexed")
        self.assertEqual(app.call("PUT", "", {"retention_days": 1})[0], 401)
        s, err, _ = app.as_secret("PUT", "", {"retention_days": 0})
        self.assertEqual((s, err["error"]["code"]), (422, "invalid_field"))
        self.assertEqual(app.as_secret("PUT", "", {"retention_days": "7"})[0], 422)
        # Two of them were sent three days ago.
        sql(f"UPDATE messages SET created_at = NOW(3) - INTERVAL 3 DAY WHERE application_id = {app_id(app.token)} "
            f"AND chat_number = {chat} AND number IN ({old[0]}, {old[1]})")
        s, got, _ = app.as_secret("PUT", "", {"retention_days": 2})
        self.assertEqual((s, got["retention_days"]), (200, 2))
        self.assertEqual(app.call("GET", "")[1]["retention_days"], 2)
        wait_until(lambda: all(erased_everywhere(app, chat, n) for n in old), what="retention applied")
        self.assertEqual(app.found(chat, "dodoword"), [fresh])
        s, cleared, _ = app.as_secret("PUT", "", {"retention_days": None})
        self.assertEqual((s, cleared["retention_days"]), (200, None))


if __name__ == "__main__":
    unittest.main()
