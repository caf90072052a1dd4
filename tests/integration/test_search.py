"""Search through the real Elasticsearch: fragments, case, several words, order, paging, isolation."""
import datetime
import json
import os
import threading
import time
import unittest
import urllib.request
from urllib.parse import quote

from harness import Client, ctl, start_api, start_worker, unique, wait_until

MAPPING_VERSION = 4  # store::current_mapping_version

procs = []
api = None


def setUpModule():
    global api
    api = start_api()
    procs.extend([api, start_worker()])


def tearDownModule():
    for p in procs:
        p.stop()


class Search(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        c = cls.c = Client(api.port)
        cls.tokens = []
        for _ in range(2):
            s, app, _ = c.request("POST", "/api/v1/apps", {"name": unique()})
            cls.tokens.append(app["token"])
            c.request("POST", f"/api/v1/apps/{app['token']}/chats")
            c.request("POST", f"/api/v1/apps/{app['token']}/chats")
        cls.token = cls.tokens[0]
        cls.bodies = ["hello there", "the shell is open", "Yellow submarine", "say HELLO to the world",
                      "nothing to see", "world hello again"]
        for b in cls.bodies:
            c.request("POST", f"/api/v1/apps/{cls.token}/chats/1/messages", {"body": b})
        # The same words in another chat and another application must never show up.
        c.request("POST", f"/api/v1/apps/{cls.token}/chats/2/messages", {"body": "hello from chat two"})
        c.request("POST", f"/api/v1/apps/{cls.tokens[1]}/chats/1/messages", {"body": "hello from another app"})
        for token, chat, n in ((cls.token, 1, len(cls.bodies)), (cls.token, 2, 1), (cls.tokens[1], 1, 1)):
            wait_until(lambda: cls.search(token, chat, "o")["total"] == n, what="indexed")

    @classmethod
    def search(cls, token, chat, q, extra=""):
        s, r, _ = cls.c.request("GET", f"/api/v1/apps/{token}/chats/{chat}/messages/search?q={quote(q)}{extra}")
        assert s == 200, (s, r)
        return r

    def numbers(self, q, extra=""):
        return sorted(h["number"] for h in self.search(self.token, 1, q, extra)["hits"])

    def test_fragment_anywhere_in_a_word_any_case(self):
        self.assertEqual(self.numbers("ell"), [1, 2, 3, 4, 6])
        self.assertEqual(self.numbers("ELL"), [1, 2, 3, 4, 6])
        self.assertEqual(self.numbers("marin"), [3])

    def test_every_word_must_match_in_any_order(self):
        self.assertEqual(self.numbers("world hello"), [4, 6])
        self.assertEqual(self.numbers("orl ell"), [4, 6])
        self.assertEqual(self.numbers("hello submarine"), [])

    def test_only_the_chats_own_messages(self):
        self.assertEqual(self.search(self.token, 2, "hello")["total"], 1)
        self.assertEqual(self.search(self.tokens[1], 1, "hello")["hits"][0]["body"], "hello from another app")
        for h in self.search(self.token, 1, "hello")["hits"]:
            self.assertIn(h["body"], self.bodies)

    def test_whole_words_rank_above_fragments(self):
        # "hello" is a whole word in 1, 4 and 6 and only a fragment nowhere else; "ell" also finds
        # shell (2) and Yellow (3), which rank below the whole words.
        self.assertEqual(sorted(h["number"] for h in self.search(self.token, 1, "hello")["hits"]), [1, 4, 6])
        ranked = [h["number"] for h in self.search(self.token, 1, "ell")["hits"]]
        self.assertEqual(sorted(ranked), [1, 2, 3, 4, 6])
        ranked = [h["number"] for h in self.search(self.token, 1, "the")["hits"]]
        # "the" is a word in 2 and 4, only a fragment of "there" in 1: the words come first.
        self.assertEqual(sorted(ranked[:2]), [2, 4])
        self.assertEqual(ranked[2], 1)

    def test_highlight_sort_and_cursor(self):
        r = self.search(self.token, 1, "submar")
        self.assertIn("<em>", r["hits"][0]["highlight"])
        by_number = [h["number"] for h in self.search(self.token, 1, "ell", "&sort=number")["hits"]]
        self.assertEqual(by_number, [1, 2, 3, 4, 6])
        first = self.search(self.token, 1, "ell", "&sort=number&limit=2")
        self.assertEqual([h["number"] for h in first["hits"]], [1, 2])
        self.assertEqual(first["total"], 5)
        second = self.search(self.token, 1, "ell", f"&sort=number&limit=2&cursor={first['next_cursor']}")
        self.assertEqual([h["number"] for h in second["hits"]], [3, 4])
        third = self.search(self.token, 1, "ell", f"&sort=number&limit=2&cursor={second['next_cursor']}")
        self.assertEqual([h["number"] for h in third["hits"]], [6])
        self.assertIsNone(third["next_cursor"])

    def test_highlight_escapes_markup(self):
        c = self.c
        s, app, _ = c.request("POST", "/api/v1/apps", {"name": unique()})
        token = app["token"]
        c.request("POST", f"/api/v1/apps/{token}/chats")
        body = "<script>alert('x')</script> & greetings"
        c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": body})
        wait_until(lambda: self.search(token, 1, "greet")["total"] == 1, what="indexed")
        hit = self.search(token, 1, "greet")["hits"][0]
        self.assertEqual(hit["body"], body)  # the body itself is returned as stored
        self.assertNotIn("<script>", hit["highlight"])
        self.assertIn("&lt;script&gt;", hit["highlight"])
        self.assertIn("<em>greetings</em>", hit["highlight"])

    def test_reference_autocomplete(self):
        s, hits, h = self.c.request(
            "GET", f"/api/v1/apps/{self.token}/chats/1/messages/autocomplete?keyword=hello&limit=1&page=2")
        self.assertEqual(s, 200)
        self.assertEqual(len(hits), 1)
        self.assertEqual(h["x-total-hits"], "3")
        self.assertIn("hello", hits[0]["content"].lower())

    def test_reindex_without_downtime(self):
        es = os.environ.get("CHAT_ES_URL", "http://127.0.0.1:19201")
        before = json.load(urllib.request.urlopen(f"{es}/_alias/messages"))
        s, app, _ = self.c.request("POST", "/api/v1/apps", {"name": unique()})
        token = app["token"]
        self.c.request("POST", f"/api/v1/apps/{token}/chats")
        for i in range(20):
            self.c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": f"zebra before {i}"})
        stop = threading.Event()
        during = []

        def write_while_reindexing():
            cl = Client(api.port)
            i = 0
            while not stop.is_set():
                s, m, _ = cl.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": f"zebra during {i}"})
                self.assertEqual(s, 201)
                during.append(m["number"])
                i += 1
                time.sleep(0.05)
        t = threading.Thread(target=write_while_reindexing)
        t.start()
        try:
            out = ctl("reindex", "--delete-old", CHAT_REINDEX_SETTLE_MS=2500)
        finally:
            stop.set()
            t.join()
        old_index = next(iter(before))
        self.assertIn(f"{old_index} -> ", out)
        after = json.load(urllib.request.urlopen(f"{es}/_alias/messages"))
        self.assertEqual(len(after), 1)
        self.assertNotEqual(next(iter(after)), old_index)
        self.assertGreater(len(during), 0)
        # Everything written before and during the reindex is found in the new index.
        wait_until(lambda: self.search(token, 1, "zebra")["total"] == 20 + len(during), what="all messages searchable")
        # Earlier data survived the move too.
        self.assertEqual(self.numbers("submar"), [3])

    def test_sort_by_creation_time_and_time_bounds(self):
        self.assertEqual([h["number"] for h in self.search(self.token, 1, "ell", "&sort=oldest")["hits"]], [1, 2, 3, 4, 6])
        self.assertEqual([h["number"] for h in self.search(self.token, 1, "ell", "&sort=newest")["hits"]], [6, 4, 3, 2, 1])
        hits = {h["number"]: h for h in self.search(self.token, 1, "ell", "&sort=number")["hits"]}
        at = {n: h["created_at"] for n, h in hits.items()}
        epoch_ms = {n: int(datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp() * 1000 + 0.5)
                    for n, v in at.items()}
        # since is inclusive, until exclusive; RFC 3339 or epoch milliseconds alike.
        self.assertEqual(self.numbers("ell", f"&since={quote(at[3])}"), [n for n in (1, 2, 3, 4, 6) if epoch_ms[n] >= epoch_ms[3]])
        self.assertEqual(self.numbers("ell", f"&since={epoch_ms[3]}&until={epoch_ms[4]}"),
                         [n for n in (1, 2, 3, 4, 6) if epoch_ms[3] <= epoch_ms[n] < epoch_ms[4]])
        self.assertIn(3, self.numbers("ell", f"&since={epoch_ms[3]}&until={epoch_ms[4]}"))
        self.assertEqual(self.numbers("ell", "&until=2000-01-01T00:00:00Z"), [])
        self.assertEqual(self.numbers("ell", "&since=2000-01-01T01:00:00%2B01:00"), [1, 2, 3, 4, 6])

    def test_bad_sort_or_time_bounds_are_422(self):
        base = f"/api/v1/apps/{self.token}/chats/1/messages/search?q=ell"
        for extra in ("&sort=bogus", "&sort=", "&since=yesterday", "&until=2023-02-29T00:00:00Z", "&since=",
                      "&since=2000-01-02T00:00:00Z&until=2000-01-01T00:00:00Z", "&since=5&until=5",
                      "&since=99999999999999999999"):
            with self.subTest(extra=extra):
                self.assert_refused_without_detail(base + extra)

    def test_index_has_the_current_mapping_version(self):
        es = os.environ.get("CHAT_ES_URL", "http://127.0.0.1:19201")
        mapping = json.load(urllib.request.urlopen(f"{es}/messages/_mapping"))
        if any(m["mappings"].get("_meta", {}).get("mapping_version", 1) < MAPPING_VERSION for m in mapping.values()):
            # A test stack kept from before the current mapping version: upgraded as an operator would.
            ctl("reindex", "--delete-old", CHAT_REINDEX_SETTLE_MS=2500)
            mapping = json.load(urllib.request.urlopen(f"{es}/messages/_mapping"))
        for index, m in mapping.items():
            self.assertEqual(m["mappings"]["_meta"]["mapping_version"], MAPPING_VERSION, index)
            # The computed terms are indexed, not kept in _source.
            self.assertIn("suffixes", m["mappings"]["_source"]["excludes"])

    def test_reindex_moves_a_live_v1_index_to_the_new_mapping(self):
        """A live index of mapping version 1 (standard analyzer, wildcard search) keeps serving searches
        and receiving writes in its own shape; chat_ctl reindex moves it to the current version."""
        self.reindex_live_old_index(1, {"dynamic": "strict", "_routing": {"required": True}, "properties": {
            "app_id": {"type": "long"}, "chat_number": {"type": "long"}, "number": {"type": "long"},
            "body": {"type": "text", "analyzer": "standard"},
            "created_at": {"type": "date", "format": "epoch_millis"},
            "updated_at": {"type": "date", "format": "epoch_millis"}}})

    def test_reindex_moves_a_live_v2_index_to_the_new_mapping(self):
        """The same from mapping version 2 (grams and suffixes in keyword fields, the shape of 889e92b):
        written and searched in its own shape while live, then moved to the current version."""
        term = {"type": "keyword", "doc_values": False}
        self.reindex_live_old_index(2, {
            "dynamic": "strict", "_meta": {"mapping_version": 2}, "_routing": {"required": True},
            "_source": {"excludes": ["words", "grams", "suffixes"]}, "properties": {
                "app_id": {"type": "long"}, "chat_number": {"type": "long"}, "number": {"type": "long"},
                "chat": {"type": "keyword", "doc_values": False}, "body": {"type": "text", "index": False},
                "words": term, "grams": term, "suffixes": term,
                "created_at": {"type": "date", "format": "epoch_millis"},
                "updated_at": {"type": "date", "format": "epoch_millis"}}})

    def reindex_live_old_index(self, version, mappings):
        es = os.environ.get("CHAT_ES_URL", "http://127.0.0.1:19201")

        def es_req(method, path, body=None):
            data = json.dumps(body).encode() if body is not None else None
            req = urllib.request.Request(f"{es}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
            return json.load(urllib.request.urlopen(req))
        current = next(iter(es_req("GET", "/_alias/messages")))
        # Numbered past the current index, so that the reindex's next name is free.
        old = f"messages_v{int(current.rsplit('_v', 1)[1]) + 100}"
        es_req("PUT", f"/{old}", {"settings": {"number_of_shards": 1, "number_of_replicas": 0}, "mappings": mappings})
        es_req("POST", "/_aliases", {"actions": [
            {"remove": {"index": current, "alias": "messages"}}, {"remove": {"index": current, "alias": "messages_write"}},
            {"add": {"index": old, "alias": "messages"}}, {"add": {"index": old, "alias": "messages_write"}}]})
        time.sleep(3)  # longer than the worker's and the API's two-second cache of the aliases
        s, app, _ = self.c.request("POST", "/api/v1/apps", {"name": unique()})
        token = app["token"]
        self.c.request("POST", f"/api/v1/apps/{token}/chats")
        for body in ("marmalade on toast", "Grüße aus Köln"):
            s, _, _ = self.c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": body})
            self.assertEqual(s, 201)
        # Written in the old shape (a strict old mapping refuses any other) and found by the old query.
        wait_until(lambda: self.search(token, 1, "malad")["total"] == 1, what=f"indexed into the v{version} index")
        self.assertEqual(es_req("GET", f"/{old}/_count")["count"], 2)
        out = ctl("reindex", "--delete-old", CHAT_REINDEX_SETTLE_MS=2500)
        self.assertIn(f"{old} -> ", out)
        after = es_req("GET", "/messages/_mapping")
        self.assertEqual(len(after), 1)
        self.assertEqual(next(iter(after.values()))["mappings"]["_meta"]["mapping_version"], MAPPING_VERSION)
        # Now folded: accents and case no longer matter; data of every earlier test came along.
        wait_until(lambda: self.search(token, 1, "GRUSSE")["total"] == 1, what="folded search after reindex")
        self.assertEqual(self.search(token, 1, "koln")["total"], 1)
        self.assertEqual(self.numbers("submar"), [3])
        es_req("DELETE", f"/{current}")

    def assert_refused_without_detail(self, path):
        """422 invalid_field (never a 503 with Retry-After), and the body carries nothing of
        Elasticsearch: no raw error, no query, no internal id, no path."""
        s, r, h = self.c.request("GET", path)
        self.assertEqual((s, r["error"]["code"]), (422, "invalid_field"), (path, r))
        self.assertNotIn("retry-after", h)
        text = json.dumps(r).lower()
        for leaked in ("app_id", "query", "chat_number", "exception", "elasticsearch", "_search", "messages_v",
                       "routing", "wildcard", "zqxjk", "/"):
            self.assertNotIn(leaked, text, (path, r))

    def test_cursor_past_the_window_is_refused_without_wrapping_around(self):
        base = f"/api/v1/apps/{self.token}/chats/1/messages/search?q=zqxjk"
        # Near 2^64, cursor + limit wrapped around past the window check and reached Elasticsearch.
        for cursor in ("18446744073709551610", "18446744073709551615", "18446744073709551596",
                       "9223372036854775808", "9981", "99999999999999999999999"):
            with self.subTest(cursor=cursor):
                self.assert_refused_without_detail(f"{base}&cursor={cursor}")
        self.assert_refused_without_detail(f"{base}&cursor=9991&limit=10")
        # The last page inside the window is still served.
        s, r, _ = self.c.request("GET", f"{base}&cursor=9980&limit=20")
        self.assertEqual(s, 200, r)
        self.assertEqual((r["hits"], r["next_cursor"]), ([], None))

    def test_autocomplete_page_past_the_window_is_refused(self):
        base = f"/api/v1/apps/{self.token}/chats/1/messages/autocomplete?keyword=zqxjk"
        for extra in ("&page=10000&limit=100", "&page=1001&limit=10", "&page=101&limit=100"):
            with self.subTest(extra=extra):
                self.assert_refused_without_detail(base + extra)
        s, r, _ = self.c.request("GET", f"{base}&page=1000&limit=10")
        self.assertEqual((s, r), (200, []))

    def test_unknown_chat_or_app(self):
        s, r, _ = self.c.request("GET", f"/api/v1/apps/{self.token}/chats/99/messages/search?q=hello")
        self.assertEqual((s, r["error"]["code"]), (404, "not_found"))
        s, r, _ = self.c.request("GET", "/api/v1/apps/nope/chats/1/messages/search?q=hello")
        self.assertEqual((s, r["error"]["code"]), (404, "not_found"))


if __name__ == "__main__":
    unittest.main()


class UnicodeSearch(unittest.TestCase):
    """Case folding and normalisation by Unicode on both sides; what a fragment is in each script."""
    bodies = ["Привет, мир", "un café noir", "CAFÉ au lait", "我说你好世界。", "こんにちは世界", "مُحَمَّد رسول الله",
              "great 👍🏽 job", "internationalization rocks", "ｆｕｌｌ ｗｉｄｔｈ", "がっこう"]

    @classmethod
    def setUpClass(cls):
        c = cls.c = Client(api.port)
        s, app, _ = c.request("POST", "/api/v1/apps", {"name": unique()})
        cls.token = app["token"]
        c.request("POST", f"/api/v1/apps/{cls.token}/chats")
        for b in cls.bodies:
            s, _, _ = c.request("POST", f"/api/v1/apps/{cls.token}/chats/1/messages", {"body": b})
            assert s == 201
        wait_until(lambda: cls.found("がっこう") == [10], what="indexed")

    @classmethod
    def found(cls, q):
        s, r, _ = cls.c.request("GET", f"/api/v1/apps/{cls.token}/chats/1/messages/search?q={quote(q)}&sort=number")
        assert s == 200, (s, r)
        return [h["number"] for h in r["hits"]]

    def test_non_ascii_capitals_find_the_word_as_typed(self):
        self.assertEqual(self.found("Привет"), [1])
        self.assertEqual(self.found("ПРИВЕТ"), [1])
        self.assertEqual(self.found("ривет"), [1])
        self.assertEqual(self.found("CAFÉ"), [2, 3])

    def test_accents_do_not_matter(self):
        self.assertEqual(self.found("cafe"), [2, 3])
        self.assertEqual(self.found("café"), [2, 3])
        self.assertEqual(self.found("محمد"), [6])  # without the harakat

    def test_chinese_and_japanese_fragments(self):
        self.assertEqual(self.found("你好"), [4])
        self.assertEqual(self.found("你"), [4])
        self.assertEqual(self.found("好世"), [4])
        self.assertEqual(self.found("こんにちは"), [5])
        self.assertEqual(self.found("世界"), [4, 5])
        self.assertEqual(self.found("かっこう"), [])  # が is not か

    def test_emoji_width_and_long_fragments(self):
        self.assertEqual(self.found("👍"), [7])
        self.assertEqual(self.found("full"), [9])
        self.assertEqual(self.found("NATIONAL"), [8])  # longer than a gram: a prefix among the suffixes
        self.assertEqual(self.found("nationalise"), [])
        self.assertEqual(self.found("ationalization rock"), [8])

    def test_highlight_marks_the_original_words(self):
        s, r, _ = self.c.request("GET", f"/api/v1/apps/{self.token}/chats/1/messages/search?q=cafe&sort=number")
        self.assertEqual([h["highlight"] for h in r["hits"]], ["un <em>café</em> noir", "<em>CAFÉ</em> au lait"])
        s, r, _ = self.c.request("GET", f"/api/v1/apps/{self.token}/chats/1/messages/search?q={quote('你好')}")
        self.assertEqual(r["hits"][0]["highlight"], "<em>我说你好世界</em>。")
