"""The HTTP API against the real stack: the reference's calls, our additions, bad input."""
import concurrent.futures
import json
import unittest
import urllib.request
import uuid

from harness import Client, app_id, ctl, redis_cli, sql, start_api, start_worker, unique, wait_until

procs = []
api = None


def setUpModule():
    global api
    api = start_api()
    procs.append(api)
    procs.append(start_worker())


def tearDownModule():
    for p in procs:
        p.stop()


def new_app(c, name=None):
    status, body, _ = c.request("POST", "/api/v1/apps", {"name": name or unique()})
    assert status == 201, (status, body)
    return body["token"]


class ReferenceApi(unittest.TestCase):
    """Every call of the reference implementation's surface, with its request and response fields."""

    def test_reference_flow(self):
        c = Client(api.port)
        status, app, _ = c.request("POST", "/api/v1/apps", {"name": "instaBug"})
        self.assertIn(status, (200, 201))
        self.assertEqual(app["name"], "instaBug")
        token = app["token"]
        self.assertGreaterEqual(len(token), 22)  # >= 128 bits, unlike the reference's 7 letters

        status, app, _ = c.request("PUT", f"/api/v1/apps/{token}", {"name": "instabug"})
        self.assertEqual(status, 200)
        self.assertEqual(app["name"], "instabug")
        self.assertEqual(app["token"], token)

        status, app, _ = c.request("GET", f"/api/v1/apps/{token}")
        self.assertEqual(status, 200)
        self.assertEqual((app["name"], app["token"], app["chat_count"]), ("instabug", token, 0))

        status, chat, _ = c.request("POST", f"/api/v1/apps/{token}/chats")
        self.assertIn(status, (200, 201))
        self.assertEqual(chat["chat_number"], 1)

        status, chat, _ = c.request("GET", f"/api/v1/apps/{token}/chats/1")
        self.assertEqual(status, 200)
        self.assertEqual(chat["number"], 1)
        self.assertIn("message_count", chat)

        status, msg, _ = c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"content": "wassup!!!!"})
        self.assertIn(status, (200, 201))
        self.assertEqual(msg["msg_number"], 1)

        status, msg, _ = c.request("GET", f"/api/v1/apps/{token}/chats/1/messages/1")
        self.assertEqual(status, 200)
        self.assertEqual((msg["number"], msg["content"]), (1, "wassup!!!!"))

        # Search goes through the worker into Elasticsearch: poll until indexed.
        def search():
            s, hits, h = c.request("GET", f"/api/v1/apps/{token}/chats/1/messages/autocomplete?keyword=wass&limit=3&page=1")
            self.assertEqual(s, 200)
            return (hits, h) if hits else None
        hits, headers = wait_until(search, what="message indexed")
        self.assertIsInstance(hits, list)
        self.assertEqual((hits[0]["number"], hits[0]["content"]), (1, "wassup!!!!"))
        self.assertEqual(headers["x-total-hits"], "1")

        # The count columns follow within the refresh interval (1 s in tests).
        def counted():
            _, a, _ = c.request("GET", f"/api/v1/apps/{token}")
            _, ch, _ = c.request("GET", f"/api/v1/apps/{token}/chats/1")
            return a["chat_count"] == 1 and ch["message_count"] == 1
        wait_until(counted, what="count columns refreshed")


class OurApi(unittest.TestCase):
    def test_body_field_lists_and_cursor_pagination(self):
        c = Client(api.port)
        token = new_app(c)
        for _ in range(3):
            self.assertEqual(c.request("POST", f"/api/v1/apps/{token}/chats")[0], 201)
        for i in range(5):
            status, m, _ = c.request("POST", f"/api/v1/apps/{token}/chats/2/messages", {"body": f"message {i}"})
            self.assertEqual(status, 201)
            self.assertEqual((m["number"], m["body"]), (i + 1, f"message {i}"))
        wait_until(lambda: sql(f"SELECT COUNT(*) FROM messages WHERE application_id = {app_id(token)}") == [["5"]],
                   what="messages stored")
        wait_until(lambda: sql(f"SELECT COUNT(*) FROM chats WHERE application_id = {app_id(token)}") == [["3"]],
                   what="chats stored")
        status, page, _ = c.request("GET", f"/api/v1/apps/{token}/chats?limit=2")
        self.assertEqual(status, 200)
        self.assertEqual([ch["number"] for ch in page["chats"]], [1, 2])
        status, page, _ = c.request("GET", f"/api/v1/apps/{token}/chats?limit=2&after={page['next_after']}")
        self.assertEqual([ch["number"] for ch in page["chats"]], [3])
        self.assertIsNone(page["next_after"])
        status, page, _ = c.request("GET", f"/api/v1/apps/{token}/chats/2/messages?limit=3&after=1")
        self.assertEqual([m["number"] for m in page["messages"]], [2, 3, 4])
        self.assertEqual(page["messages"][0]["body"], "message 1")
        for field in ("created_at", "updated_at"):
            self.assertRegex(page["messages"][0][field], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        for m in page["messages"]:
            self.assertNotIn("id", m)
            self.assertNotIn("application_id", m)

    def test_edit_message(self):
        c = Client(api.port)
        token = new_app(c)
        c.request("POST", f"/api/v1/apps/{token}/chats")
        c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": "first draft"})
        def edited():
            s, m, _ = c.request("PUT", f"/api/v1/apps/{token}/chats/1/messages/1", {"body": "final text"})
            return m if s == 200 else None  # 409 while the message is still being stored
        m = wait_until(edited, what="edit accepted")
        self.assertEqual(m["body"], "final text")
        status, m, _ = c.request("GET", f"/api/v1/apps/{token}/chats/1/messages/1")
        self.assertEqual(m["body"], "final text")
        # The index follows the edit.
        def found(q):
            _, r, _ = c.request("GET", f"/api/v1/apps/{token}/chats/1/messages/search?q={q}")
            return r["total"]
        wait_until(lambda: found("fina") == 1, what="edit indexed")
        self.assertEqual(found("draft"), 0)

    def test_read_your_writes_before_the_worker_stores(self):
        # No worker consumes this separate queue, so nothing is stored while we read.
        queue = unique("q")
        lone_api = start_api(CHAT_AMQP_QUEUE=queue)
        procs.append(lone_api)
        c = Client(lone_api.port)
        token = new_app(c)
        status, chat, _ = c.request("POST", f"/api/v1/apps/{token}/chats")
        self.assertEqual(status, 201)
        status, _, _ = c.request("GET", f"/api/v1/apps/{token}/chats/1")
        self.assertEqual(status, 200)
        status, m, _ = c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": "not stored yet"})
        self.assertEqual(status, 201)
        status, m, _ = c.request("GET", f"/api/v1/apps/{token}/chats/1/messages/1")
        self.assertEqual((status, m["body"]), (200, "not stored yet"))
        self.assertEqual(sql(f"SELECT COUNT(*) FROM messages WHERE application_id = {app_id(token)}"), [["0"]])
        # A Redis outage right after the confirm loses that entry; the allocation's placeholder
        # ("@handed-out-at") is then all there is, and a read must say "retry", not 404.
        pending = f"chat:chat:{{{token}:1}}:pending"
        status, m2, _ = c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": "entry lost"})
        self.assertEqual((status, m2["number"]), (201, 2))
        created_at = json.loads(redis_cli("HGET", pending, "2"))["created_at"]
        redis_cli("HSET", pending, "2", f"@{created_at}")
        status, err, h = c.request("GET", f"/api/v1/apps/{token}/chats/1/messages/2")
        self.assertEqual((status, err["error"]["code"], h.get("retry-after")), (503, "unavailable", "1"))
        status, err, _ = c.request("PUT", f"/api/v1/apps/{token}/chats/1/messages/2", {"body": "edit"})
        self.assertEqual(status, 409)
        # A placeholder older than an hour is a number whose creation failed: 404.
        redis_cli("HSET", pending, "7", f"@{created_at - 3601 * 1000}")
        self.assertEqual(c.request("GET", f"/api/v1/apps/{token}/chats/1/messages/7")[0], 404)
        # Now a worker on that queue stores them.
        procs.append(start_worker(CHAT_AMQP_QUEUE=queue))
        wait_until(lambda: sql(f"SELECT body FROM messages WHERE application_id = {app_id(token)} ORDER BY number")
                   == [["not stored yet"], ["entry lost"]], what="stored by the worker")
        status, m, _ = c.request("GET", f"/api/v1/apps/{token}/chats/1/messages/2")
        self.assertEqual((status, m["body"]), (200, "entry lost"))

    def test_stored_chat_missing_in_redis_is_registered_again(self):
        # What a Redis outage between a chat's confirm and its registrations leaves behind: the chat
        # is in MySQL, Redis does not know it. Message creation must heal it, not answer 404.
        c = Client(api.port)
        token = new_app(c)
        c.request("POST", f"/api/v1/apps/{token}/chats")
        # The worker registers a chat it stored (seq 0: it never lowers a counter) before it acks the
        # batch. Messages created only once the chat's row is in MySQL are stored in a later batch, so
        # that registration is over before the DEL below; in one batch with the chat it could land
        # after the DEL and make a fresh counter (a CI run got number 1 here).
        wait_until(lambda: sql(f"SELECT COUNT(*) FROM chats WHERE application_id = {app_id(token)}") == [["1"]],
                   what="chat stored")
        for i in range(3):
            c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": f"m{i}"})
        wait_until(lambda: sql(f"SELECT COUNT(*) FROM messages WHERE application_id = {app_id(token)}") == [["3"]],
                   what="stored")
        self.assertEqual(redis_cli("DEL", f"chat:chat:{{{token}:1}}"), "1")
        status, m, _ = c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": "after the outage"})
        self.assertEqual((status, m["number"]), (201, 4))
        # A chat that was never created still gets its 404.
        self.assertEqual(c.request("POST", f"/api/v1/apps/{token}/chats/9/messages", {"body": "x"})[0], 404)

    def test_chat_handed_out_but_not_registered_answers_503_until_stored(self):
        # What a Redis outage right after a chat's confirm leaves while the worker is behind: the
        # number is handed out (the allocation script marked it), the API could not register it, MySQL
        # does not have it yet. Message creation must say "retry", not 404, then work once stored.
        queue = unique("q")
        lone_api = start_api(CHAT_AMQP_QUEUE=queue)  # no worker on this queue yet
        procs.append(lone_api)
        c = Client(lone_api.port)
        token = new_app(c)
        marks = f"chat:app:{{{token}}}:unregistered"
        # The allocation script prunes marks older than an hour: proof that it writes this key.
        redis_cli("ZADD", marks, "1", "99")
        status, chat, _ = c.request("POST", f"/api/v1/apps/{token}/chats")
        self.assertEqual((status, chat["chat_number"]), (201, 1))
        self.assertEqual(redis_cli("ZRANGE", marks, "0", "-1"), "", "registration clears the chat's mark")
        # The lost registration: no chat key, the mark the allocation wrote.
        created_at = int(redis_cli("HGET", f"chat:chat:{{{token}:1}}", "created_at"))
        self.assertEqual(redis_cli("DEL", f"chat:chat:{{{token}:1}}"), "1")
        redis_cli("ZADD", marks, str(created_at), "1")
        path = f"/api/v1/apps/{token}/chats/1/messages"
        for method, target, body in (("POST", path, {"body": "early"}), ("GET", f"/api/v1/apps/{token}/chats/1", None)):
            status, err, h = c.request(method, target, body)
            self.assertEqual((status, err["error"]["code"]), (503, "unavailable"), (method, err))
            self.assertIn("still being created", err["error"]["message"])
        # A mark older than an hour is a number whose creation failed: 404 again.
        redis_cli("ZADD", marks, str(created_at - 3601 * 1000), "2")
        self.assertEqual(c.request("POST", f"/api/v1/apps/{token}/chats/2/messages", {"body": "x"})[0], 404)
        # The worker stores the chat and registers it before acking; the retry then succeeds.
        procs.append(start_worker(CHAT_AMQP_QUEUE=queue))
        status, m = wait_until(lambda: (lambda r: r[:2] if r[0] != 503 else None)(
            c.request("POST", path, {"body": "after the worker"})), what="chat stored and registered")
        self.assertEqual((status, m["number"]), (201, 1))
        self.assertEqual(redis_cli("ZSCORE", marks, "1"), "")

    def test_idempotency_key(self):
        c = Client(api.port)
        token = new_app(c)
        s1, a, _ = c.request("POST", f"/api/v1/apps/{token}/chats", headers={"Idempotency-Key": "chat-1"})
        s2, b, h = c.request("POST", f"/api/v1/apps/{token}/chats", headers={"Idempotency-Key": "chat-1"})
        self.assertEqual((s1, s2), (201, 201))
        self.assertEqual(a["chat_number"], b["chat_number"])
        self.assertEqual(h.get("idempotent-replayed"), "true")
        _, c2, _ = c.request("POST", f"/api/v1/apps/{token}/chats")
        self.assertEqual(c2["chat_number"], 2)

        path = f"/api/v1/apps/{token}/chats/1/messages"
        m1 = c.request("POST", path, {"body": "once"}, headers={"Idempotency-Key": "m-1"})[1]
        m2 = c.request("POST", path, {"body": "once"}, headers={"Idempotency-Key": "m-1"})[1]
        self.assertEqual(m1["number"], m2["number"])
        status, err, _ = c.request("POST", path, {"body": "other"}, headers={"Idempotency-Key": "m-1"})
        self.assertEqual((status, err["error"]["code"]), (409, "conflict"))
        wait_until(lambda: sql(f"SELECT COUNT(*) FROM messages WHERE application_id = {app_id(token)}") == [["1"]],
                   what="message stored")
        wait_until(lambda: sql(f"SELECT COUNT(*) FROM chats WHERE application_id = {app_id(token)}") == [["2"]],
                   what="chats stored")

    def test_health(self):
        c = Client(api.port)
        self.assertEqual(c.request("GET", "/healthz")[0], 200)
        self.assertEqual(c.request("GET", "/readyz")[0], 200)


class BadInput(unittest.TestCase):
    """Every kind of bad input gets its documented error and consumes no number."""

    def assertError(self, result, status, code):
        s, body, headers = result
        self.assertEqual(s, status, body)
        self.assertEqual(body["error"]["code"], code, body)
        self.assertIsInstance(body["error"]["message"], str)
        self.assertTrue(headers["content-type"].startswith("application/json"))

    def test_errors_and_no_consumed_numbers(self):
        c = Client(api.port)
        token = new_app(c)
        chats = f"/api/v1/apps/{token}/chats"
        self.assertEqual(c.request("POST", chats)[1]["chat_number"], 1)
        msgs = f"{chats}/1/messages"
        self.assertEqual(c.request("POST", msgs, {"body": "one"})[1]["number"], 1)

        self.assertError(c.request("POST", "/api/v1/apps", raw=b"{not json", headers={"Content-Type": "application/json"}), 400, "bad_request")
        self.assertError(c.request("POST", "/api/v1/apps", raw=b"[1]", headers={"Content-Type": "application/json"}), 400, "bad_request")
        self.assertError(c.request("POST", "/api/v1/apps", {}), 422, "invalid_field")
        self.assertError(c.request("POST", "/api/v1/apps", {"name": "   "}), 422, "invalid_field")
        self.assertError(c.request("POST", "/api/v1/apps", {"name": 5}), 422, "invalid_field")
        self.assertError(c.request("POST", "/api/v1/apps", {"name": "x" * 256}), 422, "invalid_field")
        # Blank by Unicode, not only by ASCII (README "Input rules").
        self.assertError(c.request("POST", "/api/v1/apps", {"name": "\u3000"}), 422, "invalid_field")
        self.assertError(c.request("POST", "/api/v1/apps", {"name": "\u00a0\u200b\ufeff\u2060"}), 422, "invalid_field")
        self.assertError(c.request("POST", "/api/v1/apps", {"name": "a\u0085b"}), 422, "invalid_field")
        self.assertError(c.request("PUT", f"/api/v1/apps/{token}", {"name": "\u2003"}), 422, "invalid_field")
        self.assertError(c.request("POST", "/api/v1/apps", raw=b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}), 415, "unsupported_media_type")
        self.assertError(c.request("GET", "/api/v1/apps/doesnotexist"), 404, "not_found")
        self.assertError(c.request("GET", "/api/v1/apps/bad%20token"), 404, "not_found")
        self.assertError(c.request("POST", "/api/v1/apps/doesnotexist/chats"), 404, "not_found")
        self.assertError(c.request("POST", f"/api/v1/apps/doesnotexist/chats/1/messages", {"body": "x"}), 404, "not_found")
        self.assertError(c.request("POST", f"{chats}/99/messages", {"body": "x"}), 404, "not_found")
        self.assertError(c.request("GET", f"{chats}/99"), 404, "not_found")
        self.assertError(c.request("GET", f"{msgs}/99"), 404, "not_found")
        self.assertError(c.request("GET", f"{chats}/abc"), 400, "bad_request")
        self.assertError(c.request("GET", f"{chats}/0"), 400, "bad_request")
        self.assertError(c.request("POST", msgs, {}), 422, "invalid_field")
        self.assertError(c.request("POST", msgs, {"body": ""}), 422, "invalid_field")
        self.assertError(c.request("POST", msgs, {"body": ["x"]}), 422, "invalid_field")
        self.assertError(c.request("POST", msgs, {"body": "x" * 10001}), 422, "invalid_field")
        self.assertError(c.request("POST", msgs, {"body": "\u200b"}), 422, "invalid_field")
        self.assertError(c.request("POST", msgs, {"content": "\u3000\u00a0\n"}), 422, "invalid_field")
        self.assertError(c.request("POST", msgs, {"body": "a\u0000b"}), 422, "invalid_field")
        self.assertError(c.request("POST", msgs, {"body": "a\u009b31m"}), 422, "invalid_field")
        self.assertError(c.request("PUT", f"{msgs}/1", {"body": "\ufeff"}), 422, "invalid_field")
        self.assertError(c.request("POST", msgs, raw=b'{"body": "\xff"}', headers={"Content-Type": "application/json"}), 400, "bad_request")
        self.assertError(c.request("POST", msgs, raw=b"x" * 70000, headers={"Content-Type": "application/json"}), 413, "payload_too_large")
        c = Client(api.port)  # the server closes the connection after a 413
        self.assertError(c.request("POST", msgs, {"body": "x"}, headers={"Idempotency-Key": "bad key"}), 400, "bad_request")
        self.assertError(c.request("GET", f"{msgs}?limit=0"), 422, "invalid_field")
        self.assertError(c.request("GET", f"{msgs}?limit=1000"), 422, "invalid_field")
        self.assertError(c.request("GET", f"{chats}?after=-1"), 422, "invalid_field")
        self.assertError(c.request("GET", f"{msgs}/search"), 422, "invalid_field")
        self.assertError(c.request("GET", f"{msgs}/search?q=" + "a" * 300), 422, "invalid_field")
        self.assertError(c.request("GET", f"{msgs}/autocomplete?keyword=x&page=0"), 422, "invalid_field")
        self.assertError(c.request("GET", "/api/v1/nothing"), 404, "route_not_found")
        s, body, h = c.request("DELETE", chats)
        self.assertError((s, body, h), 405, "method_not_allowed")
        self.assertIn("POST", h["allow"])

        # Nothing above consumed a number.
        self.assertEqual(c.request("POST", chats)[1]["chat_number"], 2)
        self.assertEqual(c.request("POST", msgs, {"body": "two"})[1]["number"], 2)

    def test_unicode_names_are_trimmed_and_bodies_kept(self):
        c = Client(api.port)
        family = "\U0001F469\u200d\U0001F469\u200d\U0001F467"  # an emoji ZWJ sequence
        s, app, _ = c.request("POST", "/api/v1/apps", {"name": f"\u00a0\u3000Caf\u00e9 {family}\u200b\u00a0"})
        self.assertEqual(s, 201, app)
        self.assertEqual(app["name"], f"Caf\u00e9 {family}")
        self.assertEqual(c.request("GET", f"/api/v1/apps/{app['token']}")[1]["name"], f"Caf\u00e9 {family}")
        chats = f"/api/v1/apps/{app['token']}/chats"
        c.request("POST", chats)
        body = "\tمرحبا\r\n\u00a0你好 " + family + "\u3000"
        s, msg, _ = c.request("POST", f"{chats}/1/messages", {"body": body})
        self.assertEqual(s, 201, msg)
        self.assertEqual(msg["body"], body)
        self.assertEqual(c.request("GET", f"{chats}/1/messages/1")[1]["body"], body)

    def test_search_input_is_never_query_syntax(self):
        c = Client(api.port)
        token = new_app(c)
        c.request("POST", f"/api/v1/apps/{token}/chats")
        c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": "Hello (world) OR \"quoted\" a*b"})
        wait_until(lambda: c.request("GET", f"/api/v1/apps/{token}/chats/1/messages/search?q=hello")[1]["total"] == 1,
                   what="indexed")
        from urllib.parse import quote
        for q in ['"quoted"', "a*b", "(world)", "OR", "\\", '{"query":{"match_all":{}}}', "?", "wor)ld(", "ell"]:
            s, r, _ = c.request("GET", f"/api/v1/apps/{token}/chats/1/messages/search?q={quote(q)}")
            self.assertIn(s, (200, 422), (q, r))
            if s == 200:
                self.assertLessEqual(r["total"], 1, q)


class DeadLetters(unittest.TestCase):
    def test_poison_and_conflicts_go_to_the_dead_letter_queue_and_work_goes_on(self):
        c = Client(api.port)
        token = new_app(c)
        c.request("POST", f"/api/v1/apps/{token}/chats")
        c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": "the real one"})
        aid = app_id(token)
        wait_until(lambda: sql(f"SELECT COUNT(*) FROM messages WHERE application_id = {aid}") == [["1"]], what="stored")
        before = int(ctl("dead-letters"))
        ctl("publish", "this is not json")
        # Another creation claiming a stored number: it must never overwrite the stored message.
        ctl("publish", json.dumps({"type": "message.created", "app_id": aid, "token": token, "chat_number": 1,
                                   "number": 1, "body": "an impostor", "creation_id": "f" * 32,
                                   "created_at": 1700000000000}))
        wait_until(lambda: int(ctl("dead-letters")) == before + 2, what="two dead letters")
        self.assertEqual(sql(f"SELECT body FROM messages WHERE application_id = {aid}"), [["the real one"]])
        # The worker goes on with the next creation.
        c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": "next"})
        wait_until(lambda: sql(f"SELECT COUNT(*) FROM messages WHERE application_id = {aid}") == [["2"]],
                   what="next message stored")


class Envelopes(unittest.TestCase):
    """Several events in one broker message (domain/event.hpp): stored as a whole, poison alone."""

    def setUp(self):
        self.c = Client(api.port)
        self.token = new_app(self.c)
        self.c.request("POST", f"/api/v1/apps/{self.token}/chats")
        self.c.request("POST", f"/api/v1/apps/{self.token}/chats/1/messages", {"body": "the real one"})
        self.aid = app_id(self.token)
        wait_until(lambda: self.stored() == [["1", "the real one"]], what="stored")

    def stored(self):
        return sql(f"SELECT number, body FROM messages WHERE application_id = {self.aid} ORDER BY number")

    def event(self, number, body, creation_id=None):
        return json.dumps({"type": "message.created", "app_id": self.aid, "token": self.token, "chat_number": 1,
                           "number": number, "body": body, "creation_id": creation_id or uuid.uuid4().hex,
                           "created_at": 1700000000000})

    def dead_letters_containing(self, needles, count):
        """The dead letters whose body holds one of needles, once there are count of them. Found by
        content, not by position: the queue is shared with other tests' letters."""
        def mine():
            total = int(ctl("dead-letters"))
            lines = ctl("dead-letters", "--peek", str(total)).splitlines() if total else []
            found = [d for d in map(json.loads, lines) if any(n in d["body"] for n in needles)]
            return found if len(found) >= count else None
        return wait_until(mine, what=f"{count} dead letters of this test")

    def test_a_poison_event_goes_alone_to_the_dead_letter_queue_and_the_rest_is_stored(self):
        impostor = self.event(1, "an impostor", uuid.uuid4().hex)  # claims a stored number
        garbage = f"this is not json {uuid.uuid4().hex}"
        ctl("publish-envelope", self.event(1000, "first envelope item"), impostor, garbage,
            self.event(1001, "last envelope item"))
        dead = self.dead_letters_containing([impostor, garbage], 2)
        wait_until(lambda: self.stored() == [["1", "the real one"], ["1000", "first envelope item"],
                                              ["1001", "last envelope item"]], what="the good events stored")
        self.assertEqual(len(dead), 2, dead)
        by_body = {d["body"]: d for d in dead}
        # Each carries its own event's bytes, not the envelope, and says where it came from.
        self.assertEqual(set(by_body), {impostor, garbage})
        self.assertIn("number conflict", by_body[impostor]["reason"])
        self.assertEqual(by_body[impostor]["message_id"], json.loads(impostor)["creation_id"])
        self.assertIn("undecodable event", by_body[garbage]["reason"])
        for d in dead:
            self.assertIn("of 4 in envelope chat_ctl", d["reason"])
        search = f"/api/v1/apps/{self.token}/chats/1/messages/search?q=envelope"
        wait_until(lambda: self.c.request("GET", search)[1]["total"] == 2, what="the good events indexed")
        # The worker goes on, and the API's numbering was never disturbed.
        s, m, _ = self.c.request("POST", f"/api/v1/apps/{self.token}/chats/1/messages", {"body": "next"})
        self.assertEqual((s, m["number"]), (201, 2))
        wait_until(lambda: len(self.stored()) == 4, what="next message stored")

    def test_an_envelope_whose_framing_is_broken_goes_whole(self):
        inner = self.event(1002, "x")
        broken = "chat.envelope/1 2\n" + str(len(inner)) + "\n" + inner + "\n"
        ctl("publish", broken)
        dead = self.dead_letters_containing([self.token], 1)
        self.assertEqual([d["body"] for d in dead], [broken])
        self.assertIn("undecodable envelope", dead[0]["reason"])
        self.assertEqual(self.stored(), [["1", "the real one"]])

    def test_a_single_event_message_of_the_old_format_is_still_consumed(self):
        ctl("publish", self.event(1003, "queued by an older API server"))
        wait_until(lambda: self.stored() == [["1", "the real one"], ["1003", "queued by an older API server"]],
                   what="old-format event stored")

    def test_api_creations_travel_in_envelopes(self):
        # Concurrent creations share group-commit rounds, so some broker messages carry several.
        def metric(name):
            text = urllib.request.urlopen(f"http://127.0.0.1:{api.port}/metrics", timeout=5).read().decode()
            return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))
        events, messages = metric("chat_broker_published_total"), metric("chat_broker_messages_total")

        def create(i):
            cl = Client(api.port)
            try:
                return cl.request("POST", f"/api/v1/apps/{self.token}/chats/1/messages", {"body": f"m{i}"})[0]
            finally:
                cl.close()
        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            self.assertEqual(set(ex.map(create, range(300))), {201})
        sent_events = metric("chat_broker_published_total") - events
        sent_messages = metric("chat_broker_messages_total") - messages
        self.assertGreaterEqual(sent_events, 300)
        self.assertLess(sent_messages, sent_events)
        wait_until(lambda: len(self.stored()) == 301, what="all stored")
        self.assertEqual([int(r[0]) for r in self.stored()], list(range(1, 302)))


class Concurrency(unittest.TestCase):
    def test_concurrent_chat_creation_on_one_app(self):
        c = Client(api.port)
        token = new_app(c)
        def create(_):
            cl = Client(api.port)
            try:
                s, body, _ = cl.request("POST", f"/api/v1/apps/{token}/chats")
                return body["chat_number"] if s == 201 else None
            finally:
                cl.close()
        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            numbers = list(ex.map(create, range(200)))
        self.assertEqual(sorted(numbers), list(range(1, 201)))
        wait_until(lambda: sql(f"SELECT COUNT(*), MIN(number), MAX(number) FROM chats WHERE application_id = "
                               f"{app_id(token)}") == [["200", "1", "200"]], what="200 chats stored")


if __name__ == "__main__":
    unittest.main()
