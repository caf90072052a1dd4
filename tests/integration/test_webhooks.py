"""Signed webhooks (issue 27) against the real stack, with real receivers on loopback
(webhook_receiver.Receiver): every event kind delivered and verified by the reference verifier of
Standard Webhooks (`standardwebhooks` from PyPI, installed into var/pylib by scripts/install-deps.sh);
a receiver down for CHAT_TEST_WEBHOOK_OUTAGE_S seconds while messages are created, then everything
delivered once per webhook-id and in order per chat; a worker SIGKILLed mid-delivery; 4xx not retried,
429 and 5xx retried; an endpoint disabled after its retry window and resumed; replay; secret rotation;
the SSRF guard; the endpoints' API.

Two API servers and the worker allow plain http and private addresses (the receivers are on
127.0.0.1); a third API server allows neither, for the SSRF guard. Tests that need another worker
configuration stop the module's worker and run theirs alone (any worker may claim any delivery)."""
import base64
import collections
import contextlib
import datetime
import os
import signal
import sys
import threading
import time
import unittest
import urllib.parse

import jwt

from harness import ROOT, Client, start_api, start_worker, unique, wait_until
from webhook_receiver import Receiver

PYLIB = os.path.join(ROOT, "var", "pylib")  # where scripts/install-deps.sh puts standardwebhooks
if os.path.isdir(PYLIB) and PYLIB not in sys.path:
    sys.path.append(PYLIB)
try:
    from standardwebhooks import Webhook, WebhookVerificationError
except ImportError as e:  # pragma: no cover
    raise ImportError("test_webhooks needs standardwebhooks in var/pylib (scripts/install-deps.sh)") from e

OUTAGE_S = float(os.environ.get("CHAT_TEST_WEBHOOK_OUTAGE_S", "10"))
KINDS = {"app.updated", "chat.created", "chat.deleted", "message.created", "message.updated", "message.deleted",
         "member.added", "member.removed", "read.updated"}
LENIENT = dict(CHAT_WEBHOOK_ALLOW_HTTP=1, CHAT_WEBHOOK_ALLOW_PRIVATE=1)
WORKER = dict(LENIENT, CHAT_WEBHOOK_TIMEOUT_MS=2000, CHAT_WEBHOOK_POLL_MS=50)
LEASE_S = 2 + 5  # a claimed delivery is leased for the timeout + 5 s

api_a = api_b = api_strict = worker = None


def setUpModule():
    global api_a, api_b, api_strict, worker
    settings = dict(CHAT_RATE_LIMIT_RPS=0, CHAT_USER_RATE_LIMIT_RPS=0)
    api_a = start_api(**settings, **LENIENT)
    api_b = start_api(**settings, **LENIENT)
    api_strict = start_api(**settings, CHAT_WEBHOOK_ALLOW_HTTP=0, CHAT_WEBHOOK_ALLOW_PRIVATE=0)
    worker = start_worker(**WORKER)


def tearDownModule():
    for p in (api_a, api_b, api_strict, worker):
        if p is not None:
            p.stop()


def replace_worker(kill=False, **settings):
    """Stops the running worker (SIGTERM, or SIGKILL with kill=True) and starts one with the module's
    settings updated by `settings`: only one worker runs at any time."""
    global worker
    if kill:
        worker.kill(signal.SIGKILL)
    else:
        worker.stop()
    worker = start_worker(**{**WORKER, **settings})


@contextlib.contextmanager
def worker_with(**settings):
    """The module's worker replaced by one with `settings` for the block, then back."""
    replace_worker(**settings)
    try:
        yield
    finally:
        replace_worker()


def auth(credential):
    return {"Authorization": f"Bearer {credential}"}


def mint(secret, sub):
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now - 1, "exp": now + 600}, secret, algorithm="HS256")


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def parse_iso(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class App:
    """An application with its secret, on api_a unless told otherwise; restricted on request."""

    def __init__(self, restricted=False, server=None):
        self.c = Client((server or api_a).port)
        s, app, _ = self.c.request("POST", "/api/v1/apps", {"name": unique()})
        assert s == 201, app
        self.token, self.secret = app["token"], app["secret"]
        if restricted:
            s, out, _ = self.as_secret("PUT", "", {"access": "restricted"})
            assert s == 200, out

    def path(self, rest=""):
        return f"/api/v1/apps/{self.token}{rest}"

    def call(self, method, rest, body=None, credential=None, server=None):
        c = Client(server.port) if server else self.c
        return c.request(method, self.path(rest), body, headers=auth(credential) if credential else None)

    def as_secret(self, method, rest, body=None, server=None):
        return self.call(method, rest, body, self.secret, server)

    def chat(self, credential=None):
        s, chat, _ = self.call("POST", "/chats", credential=credential or self.secret)
        assert s == 201, chat
        return chat["number"]

    def send(self, chat, body, credential=None):
        s, m, _ = self.call("POST", f"/chats/{chat}/messages", {"body": body}, credential or self.secret)
        assert s == 201, m
        return m["number"]

    def webhook(self, wh_id):
        s, wh, _ = self.as_secret("GET", f"/webhooks/{wh_id}")
        assert s == 200, wh
        return wh

    def deliveries(self, wh_id, limit=None, before=None):
        query = {k: v for k, v in (("limit", limit), ("before", before)) if v is not None}
        s, page, _ = self.as_secret("GET", f"/webhooks/{wh_id}/deliveries"
                                    + ("?" + urllib.parse.urlencode(query) if query else ""))
        assert s == 200, page
        return page

    def attempts(self, wh_id):
        """(every attempt, following the pages; the pending count of the first page)."""
        page = self.deliveries(wh_id, limit=100)
        found, pending = list(page["attempts"]), page["pending"]
        while page["next"]:
            page = self.deliveries(wh_id, limit=100, before=page["next"])
            found += page["attempts"]
        return found, pending

    def settled(self, wh_id):
        """True when the endpoint has nothing pending."""
        return self.deliveries(wh_id)["pending"] == 0


def firsts(requests):
    """The first arrival of each webhook-id, in order of arrival."""
    seen, out = set(), []
    for q in requests:
        if q.id not in seen:
            seen.add(q.id)
            out.append(q)
    return out


class WebhookTest(unittest.TestCase):
    def receiver(self, **kwargs):
        r = Receiver(**kwargs)
        self.addCleanup(r.close)
        return r

    def hook(self, app, receiver, events=("*",), path="/hook"):
        """A new endpoint of `app` pointing at `receiver`, deleted when the test ends."""
        s, wh, _ = app.as_secret("POST", "/webhooks", {"url": receiver.url(path), "events": list(events)})
        self.assertEqual(s, 201, wh)
        self.assertTrue(wh["id"].startswith("wh_"), wh)
        self.assertTrue(wh["signing_secret"].startswith("whsec_"), wh)
        self.assertGreaterEqual(len(base64.b64decode(wh["signing_secret"][6:] + "==")), 24)
        self.assertEqual((wh["url"], wh["enabled"], wh["disabled_reason"]), (receiver.url(path), True, None))
        self.addCleanup(lambda: app.as_secret("DELETE", f"/webhooks/{wh['id']}"))
        return wh

    def check(self, req, *secrets, kind=None, path="/hook"):
        """A received request as Standard Webhooks has it, verified by the reference verifier with every
        one of `secrets`; its body."""
        self.assertEqual((req.method, req.path), ("POST", path))
        self.assertTrue((req.headers.get("content-type") or "").startswith("application/json"), req.headers)
        self.assertTrue(req.id, req.headers)
        stamp = req.headers.get("webhook-timestamp", "")
        self.assertTrue(stamp.isdigit(), req.headers)
        # The time of the attempt (a retry days later must still verify), not of the event.
        self.assertLess(abs(int(stamp) - req.at), 30, req.headers)
        for sig in req.headers.get("webhook-signature", "").split(" "):
            version, _, mac = sig.partition(",")
            self.assertEqual((version, len(base64.b64decode(mac))), ("v1", 32), req.headers)
        for secret in secrets:
            try:
                Webhook(secret).verify(req.body, req.headers)
            except WebhookVerificationError as e:
                self.fail(f"{req!r} does not verify with {secret[:12]}…: {e}")
        body = req.json()
        self.assertEqual(set(body), {"type", "timestamp", "data"}, body)
        parse_iso(body["timestamp"])
        self.assertIsInstance(body["data"], dict)
        if kind is not None:
            self.assertEqual(body["type"], kind, body)
        return body

    def check_delivered_once_in_order(self, requests, secret, expected):
        """`expected`: the (chat, number) of every message created. Every one arrived as message.created
        under one webhook-id of its own; copies of an id (at least once) carry the same body; the first
        arrivals of a chat are in increasing number. Returns how many copies arrived besides the firsts."""
        by_id = collections.defaultdict(list)
        for q in requests:
            by_id[q.id].append(q)
        for copies in by_id.values():
            self.assertEqual({q.body for q in copies}, {copies[0].body}, "copies of a webhook-id differ")
        for q in requests:
            self.check(q, secret, kind="message.created")
        id_of = {}
        for q in firsts(requests):
            data = q.json()["data"]
            key = (data["chat_number"], data["number"])
            self.assertNotIn(key, id_of, f"message {key} arrived under two webhook-ids")
            id_of[key] = q.id
        self.assertEqual(set(id_of), set(expected))
        order = collections.defaultdict(list)
        for q in firsts(requests):
            data = q.json()["data"]
            order[data["chat_number"]].append(data["number"])
        for chat, numbers in order.items():
            self.assertEqual(numbers, sorted(numbers), f"chat {chat}: first arrivals out of order")
        return len(requests) - len(by_id)


class EveryEvent(WebhookTest):
    def test_every_kind_is_delivered_signed_and_a_subscription_gets_only_its_kinds(self):
        app = App(restricted=True)
        everything, only_created = self.receiver(), self.receiver()
        wh = self.hook(app, everything, ["*"])
        self.assertEqual(wh["events"], ["*"])
        narrow = self.hook(app, only_created, ["message.created"])
        ann, bob = mint(app.secret, "ann"), mint(app.secret, "bob")

        self.assertEqual(app.as_secret("PUT", "", {"retention_days": 30})[0], 200)
        chat = app.chat(ann)
        self.assertEqual(app.as_secret("PUT", f"/chats/{chat}/members/bob", server=api_b)[0], 200)
        sent = [app.send(chat, f"hello {i}", ann) for i in range(3)]

        def kinds(requests):
            return {q.json()["type"] for q in requests}
        everything.wait(lambda rs: sum(q.json()["type"] == "message.created" for q in firsts(rs)) == 3,
                        what="the creations")
        self.assertEqual(app.call("PUT", f"/chats/{chat}/messages/{sent[0]}", {"body": "hello again"}, ann)[0], 200)
        self.assertEqual(app.call("PUT", f"/chats/{chat}/read", {"number": sent[2]}, bob)[0], 200)
        self.assertEqual(app.call("DELETE", f"/chats/{chat}/messages/{sent[1]}", credential=ann)[0], 204)
        self.assertEqual(app.as_secret("DELETE", f"/chats/{chat}/members/bob")[0], 204)
        everything.wait(lambda rs: kinds(rs) >= KINDS - {"chat.deleted"}, what="every kind but chat.deleted")
        before_delete = len(everything.requests())
        self.assertEqual(app.as_secret("DELETE", f"/chats/{chat}", server=api_b)[0], 204)
        everything.wait(lambda rs: "chat.deleted" in kinds(rs), what="chat.deleted")

        for q in everything.requests():
            self.check(q, wh["signing_secret"])
        # What the chat's deletion may bring besides chat.deleted is not this test's business.
        got = collections.defaultdict(list)
        for q in firsts(everything.requests()[:before_delete]):
            body = q.json()
            got[body["type"]].append(body["data"])
        got["chat.deleted"] = [q.json()["data"] for q in firsts(everything.requests())
                               if q.json()["type"] == "chat.deleted"]
        self.assertEqual(set(got), KINDS)
        app_data = got["app.updated"][0]
        self.assertEqual((app_data.get("token", app.token), app_data.get("retention_days", 30)), (app.token, 30))
        for kind in ("chat.created", "chat.deleted"):
            self.assertEqual([d.get("chat_number", d.get("number")) for d in got[kind]], [chat], kind)
        self.assertEqual([(d["chat_number"], d["number"]) for d in got["message.created"]],
                         [(chat, n) for n in sent])  # in order
        self.assertEqual([(d["chat_number"], d["number"]) for d in got["message.updated"]], [(chat, sent[0])])
        self.assertEqual(got["message.updated"][0]["body"], "hello again")
        self.assertEqual([(d["chat_number"], d["number"]) for d in got["message.deleted"]], [(chat, sent[1])])
        self.assertIsNone(got["message.deleted"][0].get("body"))
        self.assertIn({"chat_number": chat, "user": "bob", "last_read": sent[2]},
                      [{k: d.get(k) for k in ("chat_number", "user", "last_read")} for d in got["read.updated"]])
        self.assertIn((chat, "bob"), [(d["chat_number"], d["user"]) for d in got["member.added"]])
        self.assertEqual([(d["chat_number"], d["user"]) for d in got["member.removed"]], [(chat, "bob")])

        only_created.wait(lambda rs: len(firsts(rs)) >= 3, what="the narrow endpoint's creations")
        narrow_got = [self.check(q, narrow["signing_secret"]) for q in firsts(only_created.requests())]
        self.assertEqual([(b["type"], b["data"]["number"]) for b in narrow_got],
                         [("message.created", n) for n in sent])
        # Each endpoint signs with its own secret, and its webhook-ids are its own.
        with self.assertRaises(WebhookVerificationError):
            q = only_created.requests()[0]
            Webhook(wh["signing_secret"]).verify(q.body, q.headers)
        self.assertFalse({q.id for q in only_created.requests()} & {q.id for q in everything.requests()})
        wait_until(lambda: app.settled(wh["id"]) and app.settled(narrow["id"]), what="nothing pending")


class Outage(WebhookTest):
    def test_a_receiver_down_under_load_gets_everything_once_per_id_and_in_order(self):
        app = App()
        r = self.receiver()
        wh = self.hook(app, r, ["message.created"])
        chats = [app.chat() for _ in range(3)]
        per_chat = 100
        pace = OUTAGE_S * 0.5 / per_chat  # creations spread over the first half of the outage
        created, errors = [], []

        def create(chat, server):
            c = Client(server.port)
            try:
                for i in range(per_chat):
                    s, m, _ = c.request("POST", app.path(f"/chats/{chat}/messages"), {"body": f"outage {i}"},
                                        headers=auth(app.secret))
                    assert s == 201, m
                    created.append((chat, m["number"]))
                    time.sleep(pace)
            except Exception as e:  # reported below
                errors.append(e)

        r.down()
        started = time.time()
        threads = [threading.Thread(target=create, args=(chat, (api_a, api_b)[i % 2])) for i, chat in enumerate(chats)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        # The sender met the outage (an attempt with no answer), and nothing reached the receiver.
        wait_until(lambda: any(a["response_status"] is None and a["error"] for a in app.attempts(wh["id"])[0]),
                   timeout=30, what="an attempt failing during the outage")
        time.sleep(max(0.0, started + OUTAGE_S - time.time()))  # the outage itself
        self.assertEqual(r.requests(), [])
        r.up()
        r.wait(lambda rs: len({q.id for q in rs}) >= len(created), timeout=2 * OUTAGE_S + 120,
               what=f"{len(created)} deliveries after the outage")
        wait_until(lambda: app.settled(wh["id"]), what="nothing pending")
        copies = self.check_delivered_once_in_order(r.requests(), wh["signing_secret"], created)
        print(f"\n  outage {OUTAGE_S:g} s: {len(created)} messages, {copies} redelivered copies", file=sys.stderr)


class WorkerKilled(WebhookTest):
    def test_a_worker_sigkilled_mid_delivery_loses_nothing_and_keeps_the_order(self):
        app = App()
        r = self.receiver(delay=1.5)  # answers held: deliveries are in flight when the worker dies
        wh = self.hook(app, r, ["message.created"])
        chats = [app.chat() for _ in range(4)]
        expected = [(chat, app.send(chat, f"kill {i}")) for i in range(5) for chat in chats]
        r.wait(lambda rs: r.in_flight >= 2, timeout=30, what="deliveries in flight")
        replace_worker(kill=True)  # SIGKILL, then a new worker
        # What was unanswered when the worker died was never settled: it must come again.
        unsettled = {q.id for q in r.requests() if q.status is None}
        r.delay = 0
        self.assertTrue(unsettled)
        r.wait(lambda rs: len({q.id for q in rs}) >= len(expected), timeout=LEASE_S + 60,
               what="every delivery after the kill")
        wait_until(lambda: app.settled(wh["id"]), what="nothing pending")
        self.check_delivered_once_in_order(r.requests(), wh["signing_secret"], expected)
        again = collections.Counter(q.id for q in r.requests())
        self.assertEqual({i for i in unsettled if again[i] < 2}, set(), "deliveries in flight at the kill not resent")


class Retries(WebhookTest):
    def test_4xx_is_not_retried_429_and_5xx_are_with_back_off(self):
        app = App()
        r = self.receiver()
        wh = self.hook(app, r, ["message.created"])
        refused, limited, failing = app.chat(), app.chat(), app.chat()
        first_status = {refused: 400, limited: 429, failing: 503}

        def answer(req):
            data = req.json()["data"]
            return first_status.get(data["chat_number"]) if req.seen == 1 and data["number"] == 1 else None
        r.answer = answer
        for chat in (refused, limited, failing):
            app.send(chat, "first")
        app.send(refused, "second")

        def by(rs, chat, number):
            return [q for q in rs if (q.json()["data"]["chat_number"], q.json()["data"]["number"]) == (chat, number)]
        # The refused one does not hold its chat: the next message goes.
        r.wait(lambda rs: by(rs, refused, 2), timeout=30, what="the message after the refused one")
        r.wait(lambda rs: len(by(rs, limited, 1)) >= 2 and len(by(rs, failing, 1)) >= 2, timeout=30,
               what="429 and 503 retried")
        rs = r.requests()
        for chat in (limited, failing):
            one, two = by(rs, chat, 1)[:2]
            self.assertEqual((one.id, one.body, one.status, two.status), (two.id, two.body, first_status[chat], 204))
            self.check(two, wh["signing_secret"])
            self.assertGreaterEqual(two.at - one.at, 3.9, "back-off: 5 s less at most a fifth")
        # A retry of the 400 would have come by now too (a 5 s back-off at most).
        rejected = by(rs, refused, 1)[0]
        time.sleep(max(0.0, rejected.at + 6 - time.time()))
        self.assertEqual(len(by(r.requests(), refused, 1)), 1, "a 400 was retried")

        wait_until(lambda: app.settled(wh["id"]), what="nothing pending")
        attempts, pending = app.attempts(wh["id"])
        self.assertEqual(pending, 0)
        mine = collections.defaultdict(list)
        for a in attempts:
            mine[a["message_id"]].append(a)
        self.assertEqual(set(mine), {q.id for q in r.requests()})
        only = mine[rejected.id]
        self.assertEqual([(a["attempt"], a["response_status"], a["delivery_status"], a["next_retry_at"], a["event"],
                           a["chat_number"]) for a in only], [(1, 400, "failed", None, "message.created", refused)])
        for chat in (limited, failing):
            tries = sorted(mine[by(rs, chat, 1)[0].id], key=lambda a: a["attempt"])
            self.assertEqual([(a["attempt"], a["response_status"]) for a in tries],
                             [(1, first_status[chat]), (2, 204)])
            self.assertEqual(tries[-1]["delivery_status"], "delivered")
            for a in tries:
                self.assertGreaterEqual(a["duration_ms"], 0)
                parse_iso(a["at"])
        # Pages: one attempt at a time, following the cursor, covers them all once.
        paged, before = [], None
        while True:
            page = app.deliveries(wh["id"], limit=1, before=before)
            self.assertLessEqual(len(page["attempts"]), 1)
            paged += [(a["message_id"], a["attempt"]) for a in page["attempts"]]
            before = page["next"]
            if not before:
                break
        self.assertEqual(sorted(paged), sorted((a["message_id"], a["attempt"]) for a in attempts))
        self.assertEqual(len(set(paged)), len(attempts))


class DisabledAfterTheWindow(WebhookTest):
    def test_an_endpoint_failing_for_the_whole_window_is_disabled_and_resumes_when_enabled(self):
        app = App()
        r = self.receiver(status=503)
        wh = self.hook(app, r, ["message.created"])
        with worker_with(CHAT_WEBHOOK_RETRY_WINDOW_S=3):
            chat = app.chat()
            numbers = [app.send(chat, f"doomed {i}") for i in range(3)]
            got = wait_until(lambda: (lambda w: not w["enabled"] and w)(app.webhook(wh["id"])), timeout=60,
                             what="the endpoint disabled")
            self.assertTrue(got["disabled_reason"], got)
            self.assertIsNotNone(got["disabled_at"])
            listed = app.as_secret("GET", "/webhooks")[1]["webhooks"]
            self.assertEqual([(w["id"], w["enabled"]) for w in listed], [(wh["id"], False)])
            attempts, pending = app.attempts(wh["id"])
            self.assertTrue(attempts and all(a["response_status"] == 503 for a in attempts), attempts)
            self.assertGreaterEqual(pending, 2, "the deliveries behind the abandoned one were not kept")
            # Healthy again, enabled again: what waited goes out.
            r.status = 204
            s, back, _ = app.as_secret("PUT", f"/webhooks/{wh['id']}", {"enabled": True})
            self.assertEqual((s, back["enabled"], back["disabled_reason"]), (200, True, None), back)
            r.wait(lambda rs: {q.json()["data"]["number"] for q in rs if q.status == 204} >= set(numbers[1:]),
                   timeout=30, what="the pending deliveries after enabling")
            wait_until(lambda: app.settled(wh["id"]), what="nothing pending")
        rs = r.requests()
        for q in rs:
            self.check(q, wh["signing_secret"], kind="message.created")
        delivered = [q.json()["data"]["number"] for q in rs if q.status == 204]
        self.assertEqual(delivered, sorted(delivered))
        if numbers[0] not in delivered:  # abandoned: the deliveries say so
            statuses = {a["delivery_status"] for a in app.attempts(wh["id"])[0]
                        if a["message_id"] == rs[0].id}
            self.assertEqual(statuses, {"failed"})


class Replay(WebhookTest):
    def test_a_replay_sends_the_same_webhook_ids_again(self):
        app = App()
        r = self.receiver()
        wh = self.hook(app, r, ["message.created"])
        before = time.time() - 2
        chat = app.chat()
        numbers = [app.send(chat, f"replayed {i}") for i in range(3)]
        r.wait(lambda rs: len(rs) >= 3, what="the deliveries")
        wait_until(lambda: app.settled(wh["id"]), what="nothing pending")
        first = r.requests()
        self.assertEqual([q.json()["data"]["number"] for q in first], numbers)
        s, out, _ = app.as_secret("POST", f"/webhooks/{wh['id']}/replay", {"since": iso(before)}, server=api_b)
        self.assertEqual((s, out), (202, {"replayed": 3}))
        r.wait(lambda rs: len(rs) >= 6, what="the replayed deliveries")
        again = r.requests()[3:]
        self.assertEqual([q.id for q in again], [q.id for q in first])  # same ids, same order
        for old, new in zip(first, again):
            self.assertEqual(self.check(new, wh["signing_secret"], kind="message.created"), old.json())
        wait_until(lambda: app.settled(wh["id"]), what="nothing pending")
        s, out, _ = app.as_secret("POST", f"/webhooks/{wh['id']}/replay", {"since": iso(time.time() + 60)})
        self.assertEqual((s, out), (202, {"replayed": 0}))
        for bad in ({}, {"since": "yesterday"}, {"since": 12}):
            self.assertEqual(app.as_secret("POST", f"/webhooks/{wh['id']}/replay", bad)[0], 422, bad)
        self.assertEqual(app.as_secret("POST", "/webhooks/wh_nope/replay", {"since": iso(before)})[0], 404)


class Rotation(WebhookTest):
    def test_after_a_rotation_both_secrets_sign_for_a_day(self):
        app = App()
        r = self.receiver()
        wh = self.hook(app, r, ["message.created"])
        old = wh["signing_secret"]
        chat = app.chat()
        app.send(chat, "before")
        q = r.wait(lambda rs: rs and rs[0], what="the first delivery")
        self.check(q, old)
        self.assertEqual(len(q.headers["webhook-signature"].split(" ")), 1)
        s, rotated, _ = app.as_secret("POST", f"/webhooks/{wh['id']}/rotate")
        self.assertEqual(s, 200, rotated)
        new = rotated["signing_secret"]
        self.assertTrue(new.startswith("whsec_") and new != old)
        self.assertAlmostEqual(parse_iso(rotated["previous_valid_until"]) - time.time(), 86400, delta=600)
        app.send(chat, "after")
        q = r.wait(lambda rs: len(rs) >= 2 and rs[1], what="the delivery after the rotation")
        self.assertEqual(len(q.headers["webhook-signature"].split(" ")), 2, q.headers)
        self.check(q, new, old)  # verifies with each of them
        view = app.webhook(wh["id"])
        self.assertNotIn(new, str(view))
        self.assertNotIn(old, str(view))
        self.assertEqual(app.as_secret("POST", "/webhooks/wh_nope/rotate")[0], 404)


class Ssrf(WebhookTest):
    REFUSED = ["https://127.0.0.1/hook", "http://127.0.0.1/hook", "https://10.0.0.1/hook",
               "https://169.254.169.254/latest/meta-data", "https://[::1]/hook", "https://localhost/hook",
               "https://localhost:8443/hook", "https://0.0.0.0/hook", "https://192.168.1.1/hook",
               "https://172.16.0.1/hook", "https://100.64.0.1/hook", "https://[fd00::1]/hook",
               "https://[fe80::1]/hook", "https://[::ffff:127.0.0.1]/hook", "https://2130706433/hook",
               "http://93.184.216.34/hook"]  # the last: public, but plain http is not allowed there

    def test_the_guard_refuses_private_targets_and_plain_http(self):
        app = App(server=api_strict)
        for url in self.REFUSED:
            s, err, _ = app.as_secret("POST", "/webhooks", {"url": url, "events": ["*"]})
            self.assertEqual((s, err["error"]["code"]), (422, "invalid_field"), url)
        # A public address over https is accepted: the guard is not refusing everything.
        s, wh, _ = app.as_secret("POST", "/webhooks", {"url": "https://93.184.216.34/hook", "events": ["*"]})
        self.assertEqual(s, 201, wh)
        for url in ("https://127.0.0.1/hook", "http://93.184.216.34/hook"):
            s, err, _ = app.as_secret("PUT", f"/webhooks/{wh['id']}", {"url": url})
            self.assertEqual(s, 422, (url, err))
        self.assertEqual(app.as_secret("DELETE", f"/webhooks/{wh['id']}")[0], 204)
        self.assertEqual(app.as_secret("GET", "/webhooks")[1]["webhooks"], [])

    def test_urls_with_user_info_or_another_scheme_are_refused_even_where_private_targets_are_allowed(self):
        app = App()
        r = self.receiver()
        port = r.port
        for url in (f"http://user:pw@127.0.0.1:{port}/hook", f"http://user@127.0.0.1:{port}/hook",
                    f"ftp://127.0.0.1:{port}/hook", "file:///etc/passwd", f"gopher://127.0.0.1:{port}/",
                    f"127.0.0.1:{port}/hook", "http:///hook", "", f"http://127.0.0.1:{port}/hook#fragment",
                    f"http://127.0.0.1:{port}/" + "a" * 2100, 42, None):
            s, err, _ = app.as_secret("POST", "/webhooks", {"url": url, "events": ["*"]})
            self.assertEqual(s, 422, (url, err))
        self.assertEqual(app.as_secret("GET", "/webhooks")[1]["webhooks"], [])

    def test_a_worker_without_allow_private_never_connects_to_loopback(self):
        # Registered through a server that allows it; the sender checks the address it connects to.
        app = App()
        r = self.receiver()
        wh = self.hook(app, r, ["message.created"])
        with worker_with(CHAT_WEBHOOK_ALLOW_PRIVATE=0):
            app.send(app.chat(), "not for loopback")
            attempts = wait_until(lambda: app.attempts(wh["id"])[0], timeout=30, what="an attempt")
            self.assertEqual([(a["response_status"], bool(a["error"])) for a in attempts[:1]], [(None, True)])
            self.assertEqual(r.requests(), [])
            self.assertEqual(app.as_secret("DELETE", f"/webhooks/{wh['id']}")[0], 204)


class Endpoints(WebhookTest):
    def test_create_list_get_update_delete_and_who_may(self):
        app = App(restricted=True)
        r = self.receiver()
        wh = self.hook(app, r, ["message.created", "chat.created"])
        secret = wh["signing_secret"]
        self.assertEqual(sorted(wh["events"]), ["chat.created", "message.created"])
        for field in ("created_at", "updated_at"):
            parse_iso(wh[field])
        self.assertIsNone(wh["disabled_at"])
        s, listed, _ = app.as_secret("GET", "/webhooks", server=api_b)
        self.assertEqual((s, [w["id"] for w in listed["webhooks"]]), (200, [wh["id"]]))
        got = app.webhook(wh["id"])
        self.assertEqual({k: got[k] for k in ("id", "url", "events", "enabled")},
                         {k: wh[k] for k in ("id", "url", "events", "enabled")})
        for view in (listed, got):
            self.assertNotIn("signing_secret", str(view))
            self.assertNotIn(secret, str(view))

        s, put, _ = app.as_secret("PUT", f"/webhooks/{wh['id']}", {"events": ["read.updated"], "url": r.url("/other")})
        self.assertEqual((s, put["events"], put["url"]), (200, ["read.updated"], r.url("/other")))
        self.assertNotIn(secret, str(put))
        s, put, _ = app.as_secret("PUT", f"/webhooks/{wh['id']}", {"enabled": False})
        self.assertEqual((s, put["enabled"]), (200, False))
        self.assertEqual(app.webhook(wh["id"])["enabled"], False)
        s, put, _ = app.as_secret("PUT", f"/webhooks/{wh['id']}", {"enabled": True})
        self.assertEqual((s, put["enabled"], put["events"]), (200, True, ["read.updated"]))

        for bad in ({"url": r.url(), "events": []}, {"url": r.url(), "events": ["message.exploded"]},
                    {"url": r.url(), "events": ["*", "chat.created"]}, {"url": r.url()}, {"events": ["*"]},
                    {"url": r.url(), "events": "*"}):
            s, err, _ = app.as_secret("POST", "/webhooks", bad)
            self.assertEqual((s, err["error"]["code"]), (422, "invalid_field"), bad)
        for bad in ({"enabled": "yes"}, {"events": []}, {"url": "ftp://127.0.0.1/"}):
            self.assertEqual(app.as_secret("PUT", f"/webhooks/{wh['id']}", bad)[0], 422, bad)

        # Unknown ids, and another application's ids, are not found.
        other = App()
        for method, rest, body in (("GET", "/webhooks/wh_nope", None), ("PUT", "/webhooks/wh_nope", {"enabled": True}),
                                   ("DELETE", "/webhooks/wh_nope", None),
                                   ("GET", "/webhooks/wh_nope/deliveries", None)):
            self.assertEqual(app.as_secret(method, rest, body)[0], 404, (method, rest))
        self.assertEqual(other.as_secret("GET", f"/webhooks/{wh['id']}")[0], 404)
        self.assertEqual(other.as_secret("DELETE", f"/webhooks/{wh['id']}")[0], 404)
        self.assertEqual(other.as_secret("GET", "/webhooks")[1]["webhooks"], [])

        # The application's secret only: no credential 401, a user token 403, another secret 401.
        user = mint(app.secret, "ann")
        routes = [("POST", "/webhooks", {"url": r.url(), "events": ["*"]}), ("GET", "/webhooks", None),
                  ("GET", f"/webhooks/{wh['id']}", None), ("PUT", f"/webhooks/{wh['id']}", {"enabled": False}),
                  ("DELETE", f"/webhooks/{wh['id']}", None), ("POST", f"/webhooks/{wh['id']}/rotate", None),
                  ("GET", f"/webhooks/{wh['id']}/deliveries", None),
                  ("POST", f"/webhooks/{wh['id']}/replay", {"since": iso(time.time() - 60)})]
        for method, rest, body in routes:
            self.assertEqual(app.call(method, rest, body)[0], 401, (method, rest))
            self.assertEqual(app.call(method, rest, body, user)[0], 403, (method, rest))
            self.assertEqual(app.call(method, rest, body, other.secret)[0], 401, (method, rest))
        self.assertEqual(app.webhook(wh["id"])["enabled"], True)  # none of them changed anything

        self.assertEqual(app.as_secret("DELETE", f"/webhooks/{wh['id']}")[0], 204)
        self.assertEqual(app.as_secret("GET", f"/webhooks/{wh['id']}", server=api_b)[0], 404)
        self.assertEqual(app.as_secret("GET", "/webhooks")[1]["webhooks"], [])


if __name__ == "__main__":
    unittest.main()
