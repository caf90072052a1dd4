"""Two API servers and two workers on the real stack: races and recoveries.

The restarts of a server under load (a worker SIGKILLed mid-batch, Redis, MariaDB and RabbitMQ
restarted, Elasticsearch stopped) are the fault drills of test_drills, which make test-all runs once:
the same faults with chat_load's verification of every acknowledged creation."""
import concurrent.futures
import hashlib
import random
import threading
import unittest

import os

from harness import Client, app_id, redis_cli, sql, start_api, start_worker, unique, wait_until


apis = []
workers = []


def setUpModule():
    apis.extend([start_api(), start_api()])
    workers.extend([start_worker(), start_worker()])


def tearDownModule():
    for p in apis + workers:
        p.stop()


def new_chat():
    c = Client(apis[0].port)
    s, app, _ = c.request("POST", "/api/v1/apps", {"name": unique()})
    assert s == 201, (s, app)
    token = app["token"]
    s, chat, _ = c.request("POST", f"/api/v1/apps/{token}/chats")
    assert s == 201, (s, chat)
    return token


def body_for(i):
    return f"message {i} " + hashlib.sha1(str(i).encode()).hexdigest()[: random.randint(4, 40)]


def load(token, count, threads=24):
    """Creates `count` messages in chat 1 through both API servers; returns {number: body} of the
    acknowledged ones and the number of clean failures (5xx with a JSON error or a closed connection)."""
    acked, failures, lock = {}, [0], threading.Lock()

    def worker(indices):
        clients = [Client(a.port) for a in apis]
        for i in indices:
            body = body_for(i)
            c = clients[i % len(clients)]
            try:
                s, r, _ = c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": body})
            except OSError:
                with lock:
                    failures[0] += 1
                continue
            with lock:
                if s == 201:
                    assert r["number"] not in acked, f"number {r['number']} acknowledged twice"
                    acked[r["number"]] = body
                else:
                    assert s >= 500 and "error" in r, (s, r)
                    failures[0] += 1
        for c in clients:
            c.close()

    chunks = [list(range(k, count, threads)) for k in range(threads)]
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        list(ex.map(worker, chunks))
    return acked, failures[0]


def assert_stored_exactly(test, token, acked):
    aid = app_id(token)
    def stored():
        rows = sql(f"SELECT number, body FROM messages WHERE application_id = {aid} AND chat_number = 1")
        # Wait for every acknowledged number, not for a row count: creations that failed for the
        # client may be stored too (the broker took them, its confirm was lost), so a count can be
        # reached while an acknowledged one is still on its way.
        numbers = {int(r[0]) for r in rows}
        return rows if len(rows) >= len(acked) and all(n in numbers for n in acked) else None
    rows = wait_until(stored, timeout=120, what=f"{len(acked)} messages stored")
    got = {int(n): b for n, b in rows}
    test.assertEqual(len(rows), len(got), "a number is stored twice")
    test.assertEqual(set(got), set(acked), "stored numbers differ from acknowledged ones")
    for n, b in acked.items():
        test.assertEqual(got[n], b, f"message {n} has another body")
    test.assertEqual(sorted(got), list(range(1, len(got) + 1)))


class Cluster(unittest.TestCase):
    def test_hundreds_of_concurrent_messages_through_two_servers(self):
        token = new_chat()
        acked, failures = load(token, 400)
        self.assertEqual(failures, 0)
        self.assertEqual(sorted(acked), list(range(1, 401)))
        assert_stored_exactly(self, token, acked)

    def test_redis_data_loss_resumes_numbering_from_mysql(self):
        token = new_chat()
        acked, _ = load(token, 50, threads=4)
        assert_stored_exactly(self, token, acked)
        redis_cli("FLUSHALL")  # Redis loses every counter
        c = Client(apis[0].port)
        path = f"/api/v1/apps/{token}/chats/1/messages"
        # Until a worker reloaded the counters from MySQL, creations get a clean 503, never a number.
        def created():
            s, m, _ = c.request("POST", path, {"body": "after loss"})
            if s == 201:
                return m
            self.assertEqual(s, 503, m)
            return None
        m = wait_until(created, timeout=120, what="numbering recovered")
        self.assertEqual(m["number"], 51)
        s, chat, _ = c.request("POST", f"/api/v1/apps/{token}/chats")
        self.assertEqual((s, chat["chat_number"]), (201, 2))


class NodeLists(unittest.TestCase):
    def test_a_dead_node_first_in_the_broker_and_search_lists_is_passed_over(self):
        # CHAT_AMQP_NODES and CHAT_ES_URL with a port nobody listens on first: the API's publisher
        # and the worker's consumer go on to the live broker, the worker's indexing and the API's
        # search to the live Elasticsearch node; a creation is acknowledged, stored and found.
        from harness import next_free_port
        live = f"127.0.0.1:{os.environ.get('CHAT_AMQP_PORT', '15673')}"
        dead = next_free_port()
        # CHAT_AMQP_PORT names the dead port too: a process that ignored the list would fail.
        lists = {"CHAT_AMQP_NODES": f"127.0.0.1:{dead},{live}", "CHAT_AMQP_PORT": dead,
                 "CHAT_ES_URL": f"http://127.0.0.1:{next_free_port()}," + os.environ.get("CHAT_ES_URL", "http://127.0.0.1:19201")}
        api = start_api(**lists)
        worker = start_worker(**lists)
        try:
            c = Client(api.port)
            s, app, _ = c.request("POST", "/api/v1/apps", {"name": unique()})
            self.assertEqual(s, 201, app)
            token = app["token"]
            s, _, _ = c.request("POST", f"/api/v1/apps/{token}/chats")
            self.assertEqual(s, 201)
            s, m, _ = c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": "through the list"})
            self.assertEqual(s, 201, m)
            wait_until(lambda: sql(f"SELECT COUNT(*) FROM messages m JOIN applications a ON a.id = m.application_id "
                                   f"WHERE a.token = '{token}'") == [["1"]],
                       what="the message stored through the broker list")

            def found():
                s, page, _ = c.request("GET", f"/api/v1/apps/{token}/chats/1/messages/search?q=through")
                return s == 200 and len(page["hits"]) == 1
            wait_until(found, what="the message found through the search node list")
        finally:
            api.stop()
            worker.stop()


if __name__ == "__main__":
    unittest.main()
