"""The service on a real Elasticsearch cluster (scripts/cluster.sh es-up: 3 nodes on the test stack's
Elasticsearch port + 1..3, all master-eligible). The binaries get the nodes through CHAT_ES_URL alone;
the index they create has 3 primary shards with 1 replica each (CHAT_ES_SHARDS, CHAT_ES_REPLICAS), and
a chat's messages live on one shard.

The drill SIGKILLs the elected master under load through two API servers (its shards' replicas take
over and the other two elect a master), starts it again, and has chat_load --verify check that nothing
acknowledged was lost or duplicated and that everything is searchable.
"""
import json
import os
import time
import unittest
import urllib.error
import urllib.request

from harness import (Client, app_id, cluster, drill, drill_summary, drop_search_index, module_env, require_load_bin,
                     start_api, start_worker, wait_until)

SECONDS = max(15.0, float(os.environ.get("CHAT_DRILL_SECONDS", "9")))
# More workers index more _bulk requests at once: how the ack -> stored lag of the drill depends on it.
WORKERS = int(os.environ.get("CHAT_DRILL_WORKERS", "1"))
INDEX = "messages_es_cluster_test"

apis, workers, nodes = [], [], []  # nodes: the cluster's URLs, from cluster.sh env
settings = module_env()


def es_get(path):
    # The second node: the drill's victim is the master, which is often the first.
    with urllib.request.urlopen(f"{nodes[1]}{path}", timeout=30) as r:
        return json.load(r)


def green():
    try:
        return es_get("/_cluster/health?wait_for_status=green&wait_for_nodes=3&timeout=1s")["timed_out"] is False
    except urllib.error.HTTPError as e:
        if e.code == 408:  # not green within the timeout
            return False
        raise


def setUpModule():
    require_load_bin()
    cluster("es-up")
    line = [l for l in cluster("env").splitlines() if "CHAT_ES_URL" in l][0]
    nodes.extend(line.split("=", 1)[1].split("'")[1].split(","))
    # The stack's database may have been wiped while the cluster kept its index: ids would meet.
    drop_search_index(nodes[0], INDEX)
    settings.set({"CHAT_ES_URL": ",".join(nodes), "CHAT_ES_INDEX": INDEX, "CHAT_ES_SHARDS": "3",
                  "CHAT_ES_REPLICAS": "1"})
    workers.extend(start_worker() for _ in range(WORKERS))  # each returns once the worker's index exists
    apis.extend([start_api(CHAT_RATE_LIMIT_RPS=0), start_api(CHAT_RATE_LIMIT_RPS=0)])


def tearDownModule():
    try:
        for p in apis + workers:
            p.stop()
    finally:
        settings.restore()
        cluster("es-down")


class ElasticsearchCluster(unittest.TestCase):
    def test_the_index_has_3_shards_with_a_replica_each_and_a_chat_lives_on_one(self):
        shards = es_get(f"/_cat/shards/{INDEX}?format=json")
        primaries = {s["shard"] for s in shards if s["prirep"] == "p"}
        replicas = [s for s in shards if s["prirep"] == "r"]
        self.assertEqual(len(primaries), 3, shards)
        self.assertEqual(len(replicas), 3, shards)
        wait_until(green, what="every shard copy assigned")
        self.assertEqual(len({s["node"] for s in es_get(f"/_cat/shards/{INDEX}?format=json")}), 3)

        c = Client(apis[0].port)
        s, app, _ = c.request("POST", "/api/v1/apps", {"name": "es cluster"})
        self.assertEqual(s, 201, app)
        token = app["token"]
        for chat in (1, 2, 3, 4):
            self.assertEqual(c.request("POST", f"/api/v1/apps/{token}/chats")[0], 201)
            for i in range(3):
                s, _, _ = c.request("POST", f"/api/v1/apps/{token}/chats/{chat}/messages",
                                    {"body": f"sharded greeting {i}"})
                self.assertEqual(s, 201)

        # Each chat's three documents sit on exactly one shard (routing by chat), whichever it is. Each copy
        # of a shard refreshes on its own clock, so a count right after indexing may ask a replica that
        # does not show the documents yet: refresh every copy first, and judge one snapshot of counts.
        def per_shard(chat):
            refresh = urllib.request.Request(f"{nodes[0]}/{INDEX}/_refresh", data=b"", method="POST")
            urllib.request.urlopen(refresh, timeout=30).close()
            counts = []
            for shard in sorted(primaries):
                q = json.dumps({"query": {"term": {"chat": f"{app_id(token)}:{chat}"}}}).encode()
                req = urllib.request.Request(f"{nodes[0]}/{INDEX}/_count?preference=_shards:{shard}", data=q,
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=30) as r:
                    counts.append(json.load(r)["count"])
            return counts
        def all_three_counted(chat, snapshot):
            snapshot[:] = per_shard(chat)
            return sum(snapshot) == 3
        for chat in (1, 2, 3, 4):
            snapshot = []
            wait_until(lambda: all_three_counted(chat, snapshot), what=f"chat {chat} indexed")
            self.assertEqual(sorted(snapshot), [0, 0, 3], f"chat {chat} is split over shards: {snapshot}")
            s, found, _ = c.request("GET", f"/api/v1/apps/{token}/chats/{chat}/messages/search?q=greet")
            self.assertEqual((s, found["total"]), (200, 3), found)

    def test_sigkill_the_elected_master_under_load_loses_nothing(self):
        wait_until(green, what="the cluster green before the drill")
        victim = cluster("es-master")

        def fault():
            cluster("es-kill", victim)
            time.sleep(3)
            cluster("es-start", victim)
        r = drill(self, "es-cluster-master", apis, fault, SECONDS, retries=8)
        wait_until(green, timeout=180, what="the cluster green again, every shard copy recovered")
        print(f"\nelasticsearch cluster drill: master es-{victim} killed and restarted; {drill_summary(r)}",
              flush=True)


if __name__ == "__main__":
    unittest.main()
