"""Users and access against the real stack, through two API servers: an application's secret, user
tokens minted by a standard JWT library (PyJWT, python3-jwt) and by the server, restricted
applications where a token reaches only its user's chats, members added and removed on one server and
seen on the other, revocation of a user and of a secret (their open streams end), a sender set by the
server, and the fair share of live connections. The hostile set: alg none, an RS256 header, another
application's secret and tokens, expired, not-yet-valid, tampered and oversized tokens, a chats claim
naming a chat the user is not in."""
import base64
import json
import os
import threading
import time
import unittest

import jwt  # PyJWT: what a customer's server would use

from harness import LOG_DIR, Client, redis_cli, sql, start_api, start_worker, unique, wait_until
from test_live import Sse
from wsclient import Closed, Refused, WebSocket

procs = []
api_a = api_b = None


def setUpModule():
    global api_a, api_b
    settings = dict(CHAT_LIVE_HEARTBEAT_MS=1000, CHAT_RATE_LIMIT_RPS=0)
    api_a = start_api(**settings)
    api_b = start_api(**settings)
    procs.extend([api_a, api_b, start_worker()])


def tearDownModule():
    for p in procs:
        p.stop()


def b64(data):
    return base64.urlsafe_b64encode(data if isinstance(data, bytes) else data.encode()).rstrip(b"=").decode()


def mint(secret, sub, ttl=600, **claims):
    """A user token as a customer's server mints it: PyJWT, HS256, the secret itself as the key."""
    now = time.time()
    body = {"sub": sub, "iat": int(now) - 1, "exp": int(now) + ttl, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret, algorithm="HS256")


def auth(credential):
    return {"Authorization": f"Bearer {credential}"}


class App:
    """An application created through the API, made restricted with its secret."""

    def __init__(self, restricted=True):
        self.c = Client(api_a.port)
        s, app, _ = self.c.request("POST", "/api/v1/apps", {"name": unique()})
        assert s == 201, app
        self.token, self.secret, self.app = app["token"], app["secret"], app
        if restricted:
            s, out, _ = self.c.request("PUT", f"/api/v1/apps/{self.token}", {"access": "restricted"},
                                       headers=auth(self.secret))
            assert s == 200 and out["access"] == "restricted", (s, out)

    def path(self, rest=""):
        return f"/api/v1/apps/{self.token}{rest}"

    def as_secret(self, method, rest, body=None, port=None):
        return Client(port or api_a.port).request(method, self.path(rest), body, headers=auth(self.secret))

    def chat_of(self, user):
        """A chat created by `user` (its first member) with one message; its number."""
        s, chat, _ = Client(api_a.port).request("POST", self.path("/chats"), headers=auth(mint(self.secret, user)))
        assert s == 201, chat
        return chat["number"]


class Secrets(unittest.TestCase):
    def test_a_new_application_is_open_and_shows_its_secret_once_stored_only_as_a_hash(self):
        app = App(restricted=False)
        self.assertEqual(app.app["access"], "open")
        self.assertTrue(app.secret.startswith("sk_") and len(app.secret) >= 46)
        # The reference API keeps working with no credential.
        c = Client(api_b.port)
        s, chat, _ = c.request("POST", app.path("/chats"))
        self.assertEqual(s, 201)
        s, m, _ = c.request("POST", app.path(f"/chats/{chat['number']}/messages"), {"content": "hi"})
        self.assertEqual((s, m["sender"]), (201, None))
        s, got, _ = c.request("GET", app.path())
        self.assertEqual((s, "secret" in got), (200, False))
        rows = sql(f"SELECT HEX(s.hash) FROM app_secrets s JOIN applications a ON a.id = s.application_id "
                   f"WHERE a.token = '{app.token}'")
        self.assertEqual(len(rows), 1)
        self.assertNotIn(app.secret.encode().hex().upper(), rows[0][0])
        dump = json.dumps(sql(f"SELECT * FROM applications WHERE token = '{app.token}'"))
        self.assertNotIn(app.secret, dump)

    def test_rotation_listing_and_revoking_a_secret_takes_its_tokens_and_streams_with_it(self):
        app = App()
        s, second, _ = app.as_secret("POST", "/secrets")
        self.assertEqual(s, 201, second)
        chat = app.chat_of("ann")
        ann_by_second = mint(second["secret"], "ann")
        # Both secrets work at once, on both servers.
        for port in (api_a.port, api_b.port):
            self.assertEqual(Client(port).request("GET", app.path(f"/chats/{chat}"), headers=auth(ann_by_second))[0], 200)
            self.assertEqual(Client(port).request("GET", app.path(), headers=auth(second["secret"]))[0], 200)
        s, listing, _ = app.as_secret("GET", "/secrets")
        self.assertEqual(s, 200)
        self.assertEqual({x["id"] for x in listing["secrets"]}, {app.app["secret_id"], second["id"]})
        self.assertNotIn(app.secret, json.dumps(listing))
        self.assertNotIn(second["secret"], json.dumps(listing))
        stream = Sse(api_b.port, app.path(f"/chats/{chat}/stream?access_token={ann_by_second}"), timeout=15)
        self.assertEqual(stream.resp.status, 200)
        # Revoke the second secret (on the other server than the stream's).
        self.assertEqual(app.as_secret("DELETE", f"/secrets/{second['id']}")[0], 204)
        started = time.time()
        events = []
        while True:
            e = stream.next_event()
            if e is None:
                break
            events.append(e)
        self.assertLess(time.time() - started, 5, "the stream outlived its secret")
        self.assertEqual(events[-1]["event"], "error")
        self.assertIn("access_revoked", events[-1]["data"])
        for port in (api_a.port, api_b.port):
            self.assertEqual(Client(port).request("GET", app.path(), headers=auth(second["secret"]))[0], 401)
            self.assertEqual(Client(port).request("GET", app.path(f"/chats/{chat}"), headers=auth(ann_by_second))[0], 401)
        # The last secret stays: an application keeps a way to be managed.
        s, err, _ = app.as_secret("DELETE", f"/secrets/{app.app['secret_id']}")
        self.assertEqual((s, err["error"]["code"]), (409, "conflict"))
        self.assertEqual(app.as_secret("DELETE", "/secrets/sec_nope")[0], 404)
        s, listing, _ = app.as_secret("GET", "/secrets")
        self.assertIsNotNone(listing["secrets"][0]["last_used_at"])

    def test_managing_needs_the_secret_in_either_mode(self):
        for restricted in (False, True):
            app = App(restricted)
            user = auth(mint(app.secret, "ann"))
            c = Client(api_a.port)
            for method, rest, body in [("POST", "/secrets", None), ("GET", "/secrets", None),
                                       ("PUT", "", {"access": "open"}), ("POST", "/users/ann/revoke", None),
                                       ("POST", "/users/ann/tokens", None)]:
                self.assertEqual(c.request(method, app.path(rest), body)[0], 401, (method, rest))
                self.assertEqual(c.request(method, app.path(rest), body, headers=user)[0], 403, (method, rest))
            other = App(restricted)
            self.assertEqual(c.request("GET", app.path("/secrets"), headers=auth(other.secret))[0], 401)


class Restricted(unittest.TestCase):
    def test_no_credential_is_401_on_every_route_and_nothing_is_created(self):
        app = App()
        chat = app.chat_of("ann")
        c = Client(api_b.port)
        for method, rest, body in [("GET", "", None), ("PUT", "", {"name": "x"}), ("POST", "/chats", None),
                                   ("GET", "/chats", None), ("GET", f"/chats/{chat}", None),
                                   ("POST", f"/chats/{chat}/messages", {"body": "x"}),
                                   ("GET", f"/chats/{chat}/messages", None), ("GET", f"/chats/{chat}/messages/1", None),
                                   ("GET", f"/chats/{chat}/messages/search?q=x", None),
                                   ("GET", f"/chats/{chat}/messages/autocomplete?keyword=x", None),
                                   ("GET", f"/chats/{chat}/members", None)]:
            s, err, h = c.request(method, app.path(rest), body)
            self.assertEqual((s, err["error"]["code"]), (401, "unauthorized"), (method, rest))
            self.assertEqual(h.get("www-authenticate"), 'Bearer realm="chat"')
        self.assertEqual(redis_cli("HGET", f"chat:chat:{{{app.token}:{chat}}}", "seq"), "0")
        stream = Sse(api_b.port, app.path(f"/chats/{chat}/stream"))
        self.assertEqual(stream.resp.status, 401)
        with self.assertRaises(Refused) as refused:
            WebSocket(api_b.port, app.path("/ws"))
        self.assertEqual(refused.exception.status, 401)

    def test_the_hostile_set_is_refused(self):
        app = App()
        other = App()
        chat = app.chat_of("ann")
        now = int(time.time())
        header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}))
        good = mint(app.secret, "ann")
        h, p, sig = good.split(".")
        tampered = f"{h}.{b64(json.dumps({'sub': 'bob', 'exp': now + 600}))}.{sig}"
        cases = {
            "alg none": f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}))}.{b64(json.dumps({'sub': 'ann', 'exp': now + 600}))}.",
            "RS256 header": f"{b64(json.dumps({'alg': 'RS256', 'typ': 'JWT'}))}.{p}.{sig}",
            "HS512": jwt.encode({"sub": "ann", "exp": now + 600}, app.secret, algorithm="HS512"),
            "another application's secret": other.secret,
            "another application's token, same sub": mint(other.secret, "ann"),
            "expired": mint(app.secret, "ann", ttl=-120),
            "not yet valid": mint(app.secret, "ann", nbf=now + 3600),
            "tampered": tampered,
            "oversized": mint(app.secret, "ann", pad="x" * 5000),
            "no sub": jwt.encode({"exp": now + 600}, app.secret, algorithm="HS256"),
            "no exp": jwt.encode({"sub": "ann"}, app.secret, algorithm="HS256"),
            "garbage": f"{header}.e30.zzz",
        }
        c = Client(api_a.port)
        for name, credential in cases.items():
            for rest in ("", f"/chats/{chat}"):
                s, err, _ = c.request("GET", app.path(rest), headers=auth(credential))
                self.assertEqual((s, err["error"]["code"]), (401, "unauthorized"), name)
        # A chats claim naming a chat the user is not in: exactly the answer of a chat that does not exist.
        bobs = app.chat_of("bob")
        scoped = mint(app.secret, "ann", chats=[chat, bobs])
        s1, absent, _ = c.request("GET", app.path("/chats/99999"), headers=auth(scoped))
        s2, not_member, _ = c.request("GET", app.path(f"/chats/{bobs}"), headers=auth(scoped))
        self.assertEqual((s1, s2), (404, 404))
        self.assertEqual(absent, not_member)
        self.assertEqual(c.request("GET", app.path(f"/chats/{chat}"), headers=auth(scoped))[0], 200)

    def test_a_user_reaches_only_its_chats_and_members_are_seen_on_every_server_at_once(self):
        app = App()
        anns = app.chat_of("ann")
        ann, bob = auth(mint(app.secret, "ann")), auth(mint(app.secret, "bob"))
        a, b = Client(api_a.port), Client(api_b.port)
        s, m, _ = a.request("POST", app.path(f"/chats/{anns}/messages"), {"body": "hello bob"}, headers=ann)
        self.assertEqual(s, 201, m)
        nowhere = b.request("GET", app.path("/chats/424242"), headers=bob)
        for method, rest, body in [("GET", f"/chats/{anns}", None), ("GET", f"/chats/{anns}/messages", None),
                                   ("GET", f"/chats/{anns}/messages/1", None),
                                   ("POST", f"/chats/{anns}/messages", {"body": "x"}),
                                   ("PUT", f"/chats/{anns}/messages/1", {"body": "x"}),
                                   ("GET", f"/chats/{anns}/messages/search?q=hello", None),
                                   ("GET", f"/chats/{anns}/members", None)]:
            s, err, _ = b.request(method, app.path(rest), body, headers=bob)
            self.assertEqual((s, err), (404, nowhere[1]), (method, rest))
        self.assertEqual(b.request("GET", app.path("/chats"), headers=bob)[1]["chats"], [])
        # Added on server A; on server B within a second.
        s, member, _ = app.as_secret("PUT", f"/chats/{anns}/members/bob")
        self.assertEqual((s, member["user"]), (200, "bob"))
        added = time.time()
        wait_until(lambda: b.request("GET", app.path(f"/chats/{anns}"), headers=bob)[0] == 200, timeout=5,
                   interval=0.05, what="bob reaching the chat on the other server")
        self.assertLess(time.time() - added, 1.0)
        wait_until(lambda: [c["number"] for c in b.request("GET", app.path("/chats"), headers=bob)[1]["chats"]] == [anns],
                   what="bob's chat list")
        s, page, _ = b.request("GET", app.path(f"/chats/{anns}/members"), headers=bob)
        self.assertEqual({x["user"] for x in page["members"]}, {"ann", "bob"})
        # The secret lists every chat; ann's list has only hers.
        app.chat_of("carol")
        wait_until(lambda: len(app.as_secret("GET", "/chats")[1]["chats"]) == 2, what="both chats listed")
        self.assertEqual([c["number"] for c in a.request("GET", app.path("/chats"), headers=ann)[1]["chats"]], [anns])

    def test_a_removed_member_loses_its_streams_and_sockets_on_every_server_within_5_seconds(self):
        app = App()
        chat = app.chat_of("ann")
        bob_token = mint(app.secret, "bob")
        self.assertEqual(app.as_secret("PUT", f"/chats/{chat}/members/bob")[0], 200)
        stream = Sse(api_b.port, app.path(f"/chats/{chat}/stream?access_token={bob_token}"), timeout=15)
        self.assertEqual(stream.resp.status, 200)
        ws = WebSocket(api_a.port, app.path(f"/ws?access_token={bob_token}"))
        ws.send_json({"subscribe": {"chat": chat}})
        self.assertEqual(ws.recv_json()["subscribed"]["chat"], chat)
        ann = auth(mint(app.secret, "ann"))
        Client(api_a.port).request("POST", app.path(f"/chats/{chat}/messages"), {"body": "before"}, headers=ann)
        self.assertEqual(ws.recv_json()["event"], "message.created")
        self.assertEqual(app.as_secret("DELETE", f"/chats/{chat}/members/bob", port=api_b.port)[0], 204)
        removed = time.time()
        last = None
        while True:
            e = stream.next_event()
            if e is None:
                break
            last = e
        self.assertLess(time.time() - removed, 5)
        self.assertEqual(last["event"], "error")
        frame = ws.recv_json()
        self.assertLess(time.time() - removed, 5)
        self.assertEqual((frame["error"]["code"], frame["chat"]), ("not_found", chat))
        ws.close()
        self.assertEqual(Client(api_a.port).request("GET", app.path(f"/chats/{chat}"), headers=auth(bob_token))[0], 404)

    def test_a_revoked_user_is_refused_on_every_server_and_its_streams_end(self):
        app = App()
        chat = app.chat_of("ann")
        old = mint(app.secret, "ann")
        stream = Sse(api_a.port, app.path(f"/chats/{chat}/stream?access_token={old}"), timeout=15)
        ws = WebSocket(api_b.port, app.path(f"/ws?access_token={old}"))
        s, revoked, _ = app.as_secret("POST", "/users/ann/revoke", port=api_b.port)
        self.assertEqual((s, revoked["user"]), (200, "ann"))
        t0 = time.time()
        while stream.next_event() is not None:
            pass
        with self.assertRaises(Closed) as closed:
            while True:
                ws.recv_json()
        self.assertEqual(closed.exception.code, 1008)
        self.assertIn("access_revoked", closed.exception.reason)
        self.assertLess(time.time() - t0, 5)
        for port in (api_a.port, api_b.port):
            s, err, _ = Client(port).request("GET", app.path(f"/chats/{chat}"), headers=auth(old))
            self.assertEqual(s, 401, err)
        # A token minted after the revocation works (iat is in whole seconds: one minted in the very
        # second of the revocation is refused too, so this one waits for the next second).
        time.sleep(1.0 - time.time() % 1.0 + 0.05)
        s, minted, _ = app.as_secret("POST", "/users/ann/tokens", {"ttl": 60})
        self.assertEqual(s, 201, minted)
        self.assertEqual(Client(api_b.port).request("GET", app.path(f"/chats/{chat}"), headers=auth(minted["token"]))[0], 200)


class Tokens(unittest.TestCase):
    def test_a_minted_token_is_a_standard_hs256_jwt_of_the_secret(self):
        app = App()
        s, minted, _ = app.as_secret("POST", "/users/ann/tokens")
        self.assertEqual(s, 201, minted)
        claims = jwt.decode(minted["token"], app.secret, algorithms=["HS256"])
        self.assertEqual(claims["sub"], "ann")
        self.assertAlmostEqual(claims["exp"] - time.time(), 3600, delta=30)
        self.assertEqual(jwt.get_unverified_header(minted["token"])["kid"], app.app["secret_id"])
        for body in ({"ttl": 0}, {"ttl": 86401}, {"ttl": "1"}, {"chats": [0]}):
            self.assertEqual(app.as_secret("POST", "/users/ann/tokens", body)[0], 422, body)
        self.assertEqual(app.as_secret("POST", "/users/a%20b/tokens")[0], 422)
        scoped = app.as_secret("POST", "/users/ann/tokens", {"chats": [1]})[1]["token"]
        self.assertEqual(jwt.decode(scoped, app.secret, algorithms=["HS256"])["chats"], [1])
        # A chats-limited token does not make chats.
        self.assertEqual(Client(api_a.port).request("POST", app.path("/chats"), headers=auth(scoped))[0], 403)

    def test_credentials_never_reach_a_log_line(self):
        app = App()
        chat = app.chat_of("ann")
        token = mint(app.secret, "ann")
        stream = Sse(api_a.port, app.path(f"/chats/{chat}/stream?access_token={token}"))
        self.assertEqual(stream.resp.status, 200)
        stream.close()
        Client(api_a.port).request("GET", app.path(f"/chats/{chat}/messages?wait=1&access_token={token}"))
        Client(api_a.port).request("GET", app.path(), headers=auth("sk_" + "A" * 86))
        for name in os.listdir(LOG_DIR):
            if name.startswith("api-") or name.startswith("worker-"):
                with open(os.path.join(LOG_DIR, name), errors="replace") as f:
                    text = f.read()
                for credential in (token, app.secret, token.split(".")[2]):
                    self.assertNotIn(credential, text, name)


class Sender(unittest.TestCase):
    def test_the_server_sets_the_sender_and_users_change_only_their_own_messages(self):
        app = App()
        chat = app.chat_of("ann")
        self.assertEqual(app.as_secret("PUT", f"/chats/{chat}/members/bob")[0], 200)
        ann, bob = auth(mint(app.secret, "ann")), auth(mint(app.secret, "bob"))
        a = Client(api_a.port)
        s, m, _ = a.request("POST", app.path(f"/chats/{chat}/messages"), {"body": "zebra crossing", "sender": "bob"},
                            headers=ann)
        self.assertEqual((s, m["sender"]), (201, "ann"))
        s, bot, _ = app.as_secret("POST", f"/chats/{chat}/messages", {"body": "zebra bot", "sender": "bot-1"})
        self.assertEqual((s, bot["sender"]), (201, "bot-1"))
        # Read back everywhere: the message, the list, MariaDB, search (and its sender filter).
        got = Client(api_b.port).request("GET", app.path(f"/chats/{chat}/messages/{m['number']}"), headers=bob)[1]
        self.assertEqual(got["sender"], "ann")
        wait_until(lambda: sql(f"SELECT sender FROM messages m JOIN applications a ON a.id = m.application_id "
                               f"WHERE a.token = '{app.token}' ORDER BY m.number") == [["ann"], ["bot-1"]],
                   what="senders stored")

        def hits(query):
            s, page, _ = a.request("GET", app.path(f"/chats/{chat}/messages/search?{query}"), headers=bob)
            return page["hits"] if s == 200 else None
        wait_until(lambda: len(hits("q=zebra") or []) == 2, what="both searchable")
        self.assertEqual({h["sender"] for h in hits("q=zebra")}, {"ann", "bot-1"})
        self.assertEqual([h["sender"] for h in hits("q=zebra&sender=bot-1")], ["bot-1"])
        # Edits: one's own only; the secret any.
        s, err, _ = a.request("PUT", app.path(f"/chats/{chat}/messages/{m['number']}"), {"body": "mine"}, headers=bob)
        self.assertEqual((s, err["error"]["code"]), (403, "forbidden"))
        s, edited, _ = a.request("PUT", app.path(f"/chats/{chat}/messages/{m['number']}"), {"body": "edited"}, headers=ann)
        self.assertEqual((s, edited["body"], edited["sender"]), (200, "edited", "ann"))
        self.assertEqual(app.as_secret("PUT", f"/chats/{chat}/messages/{m['number']}", {"body": "moderated"})[0], 200)

    def test_live_events_carry_the_sender(self):
        app = App()
        chat = app.chat_of("ann")
        ann = mint(app.secret, "ann")
        stream = Sse(api_b.port, app.path(f"/chats/{chat}/stream?access_token={ann}"))
        Client(api_a.port).request("POST", app.path(f"/chats/{chat}/messages"), {"body": "hi"}, headers=auth(ann))
        e = stream.next_event()
        self.assertEqual(json.loads(e["data"])["sender"], "ann")
        stream.close()


class FairShare(unittest.TestCase):
    def test_one_application_never_leaves_another_without_a_connection(self):
        api = start_api(CHAT_MAX_CONNECTIONS=20, CHAT_LIVE_HEARTBEAT_MS=1000, CHAT_RATE_LIMIT_RPS=0)
        try:
            greedy, polite = App(restricted=False), App(restricted=False)
            s, chat, _ = Client(api.port).request("POST", greedy.path("/chats"))
            streams = []
            for _ in range(10):  # half of the 20
                st = Sse(api.port, greedy.path(f"/chats/{chat['number']}/stream"))
                self.assertEqual(st.resp.status, 200)
                streams.append(st)
            refused = Sse(api.port, greedy.path(f"/chats/{chat['number']}/stream"))
            self.assertEqual(refused.resp.status, 429)
            self.assertGreater(int(refused.resp.getheader("Retry-After")), 0)
            refused.close()
            c = Client(api.port)
            s, mine, _ = c.request("POST", polite.path("/chats"))
            self.assertEqual(s, 201)
            self.assertEqual(c.request("GET", polite.path(f"/chats/{mine['number']}"))[0], 200)
            self.assertEqual(c.request("POST", polite.path(f"/chats/{mine['number']}/messages"), {"body": "x"})[0], 201)
            own = Sse(api.port, polite.path(f"/chats/{mine['number']}/stream"))
            self.assertEqual(own.resp.status, 200)
            own.close()
            for st in streams:
                st.close()
        finally:
            api.stop()

    def test_one_user_holds_at_most_its_count_and_creates_at_most_its_rate(self):
        api = start_api(CHAT_LIVE_USER_MAX=2, CHAT_USER_RATE_LIMIT_RPS=1, CHAT_USER_RATE_LIMIT_BURST=2,
                        CHAT_RATE_LIMIT_RPS=0)
        try:
            app = App()
            chat = app.chat_of("ann")
            ann = mint(app.secret, "ann")
            held = [Sse(api.port, app.path(f"/chats/{chat}/stream?access_token={ann}")) for _ in range(2)]
            self.assertEqual([h.resp.status for h in held], [200, 200])
            third = Sse(api.port, app.path(f"/chats/{chat}/stream?access_token={ann}"))
            self.assertEqual(third.resp.status, 429)
            for h in held + [third]:
                h.close()
            c = Client(api.port)
            statuses = [c.request("POST", app.path(f"/chats/{chat}/messages"), {"body": "x"}, headers=auth(ann))[0]
                        for _ in range(4)]
            self.assertIn(429, statuses)
            # The secret has no user bucket.
            self.assertEqual(c.request("POST", app.path(f"/chats/{chat}/messages"), {"body": "x"},
                                       headers=auth(app.secret))[0], 201)
        finally:
            api.stop()


class Operator(unittest.TestCase):
    def test_with_an_operator_token_only_the_operator_creates_applications(self):
        api = start_api(CHAT_ADMIN_TOKEN="operator-secret-1")
        try:
            c = Client(api.port)
            self.assertEqual(c.request("POST", "/api/v1/apps", {"name": "x"})[0], 401)
            self.assertEqual(c.request("POST", "/api/v1/apps", {"name": "x"}, headers=auth("nope"))[0], 401)
            self.assertEqual(c.request("POST", "/api/v1/apps", {"name": "x"}, headers=auth("operator-secret-1"))[0], 201)
        finally:
            api.stop()


if __name__ == "__main__":
    unittest.main()
