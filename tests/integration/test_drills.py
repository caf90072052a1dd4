"""Fault drills: chat_load drives two API servers and two workers while one fault is injected, then
verifies in MariaDB and Elasticsearch that no acknowledged creation was lost or duplicated, that
numbers have no holes from acknowledged writes, and that every failure during the fault was clean
(a 5xx with the JSON error, or a closed connection; never a wrong number).

`make test-all` runs them once (CHAT_DRILL_SECONDS, 20 s of load there, Elasticsearch down 8 s);
`make drill` runs long ones (60 s, Elasticsearch down 30 s). These are the only tests that restart a
server of the stack: test_cluster's races and recoveries need none.
"""
import os
import signal
import subprocess
import time
import unittest

from harness import drill, env, require_load_bin, stack, start_api, start_worker

SECONDS = float(os.environ.get("CHAT_DRILL_SECONDS", "9"))
ES_DOWN = float(os.environ.get("CHAT_DRILL_ES_DOWN_S", "5"))

apis, workers = [], []


def setUpModule():
    require_load_bin()
    apis.extend([start_api(CHAT_RATE_LIMIT_RPS=0), start_api(CHAT_RATE_LIMIT_RPS=0)])
    workers.extend([start_worker(), start_worker()])


def tearDownModule():
    for p in apis + workers:
        p.stop()


class Drills(unittest.TestCase):
    def drill(self, name, fault):
        return drill(self, name, apis, fault, SECONDS)

    def test_sigkill_a_worker(self):
        def fault():
            workers[0].kill(signal.SIGKILL)
            workers[0] = start_worker()
        self.drill("kill-worker", fault)

    def test_sigkill_an_api_server_clients_retry_on_the_other(self):
        def fault():
            apis[1].kill(signal.SIGKILL)
        try:
            self.drill("kill-api", fault)
        finally:
            apis[1] = start_api(CHAT_RATE_LIMIT_RPS=0)

    def test_restart_rabbitmq(self):
        def fault():
            stack("stop", "rabbitmq")
            time.sleep(1)
            stack("up", "rabbitmq")
        self.drill("restart-rabbitmq", fault)

    def test_restart_mariadb(self):
        def fault():
            stack("stop", "mysql")
            time.sleep(1)
            stack("up", "mysql")
        self.drill("restart-mariadb", fault)

    def test_restart_redis(self):
        def fault():
            stack("stop", "redis")
            time.sleep(1)
            stack("up", "redis")
        self.drill("restart-redis", fault)

    def test_stop_elasticsearch(self):
        def fault():
            stack("stop", "elasticsearch")
            time.sleep(ES_DOWN)
            stack("up", "elasticsearch")
        self.drill("stop-elasticsearch", fault)

    def test_sigkill_elasticsearch_storing_does_not_wait_for_search(self):
        """MariaDB is the source of truth: while search is down, batches are stored and acknowledged,
        their indexing left to the worker's catch-up (worker/index_catchup.hpp), which indexes them
        once search is back (the verification finds every acknowledged message searchable)."""
        outage = []

        def fault():
            started = time.time()
            port = env()["CHAT_ES_URL"].rsplit(":", 1)[1]
            out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
            pids = {int(p.split("=")[1]) for p in out.replace(",", " ").split() if p.startswith("pid=")}
            self.assertTrue(pids, f"no Elasticsearch listening on {port}")
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            time.sleep(ES_DOWN)
            stack("up", "elasticsearch")  # returns once it answers again: the outage includes its start-up
            outage.append(time.time() - started)
        r = self.drill("sigkill-elasticsearch", fault)
        stored = r["verify"]["lag_ms"]["stored"]
        self.assertGreater(stored["count"], 0, "no lag was sampled")
        # Had storing waited for search (as it did before the catch-up), the creations acknowledged
        # early in the outage would have been stored only after it: the lag would reach its length.
        self.assertLess(stored["max"], outage[0] * 1000 / 2, f"storing waited for an outage of {outage[0]:.1f} s")


if __name__ == "__main__":
    unittest.main()
