"""The service on a real Redis Cluster (scripts/cluster.sh: 3 masters with 1 replica each, on the test
stack's Redis port + 1..6), the other servers of the test stack as they are. Both binaries follow the
cluster through CHAT_REDIS_NODES alone, with CHAT_REDIS_WAIT_REPLICAS=1 so that an acknowledged number
is on a replica before the client hears of it.

The drill SIGKILLs a master under load through two API servers, lets its replica take over, starts the
killed node again (it rejoins as a replica) and has chat_load --verify check that nothing acknowledged
was lost or duplicated and that every number was handed out once: the promise WAIT keeps across the
failover.
"""
import os
import time
import unittest

from harness import (Client, cluster, drill, drill_summary, module_env, redis_cli, require_load_bin, start_api,
                     start_worker, unique, wait_until)

SECONDS = max(15.0, float(os.environ.get("CHAT_DRILL_SECONDS", "9")))

apis, workers = [], []
settings = module_env()



def setUpModule():
    require_load_bin()
    cluster("redis-wipe")
    cluster("redis-up")
    nodes = cluster("env").splitlines()[0].split("=", 1)[1].strip("'")
    # For this module only: every process it starts (and harness.redis_cli) uses the cluster.
    settings.set({"CHAT_REDIS_NODES": nodes, "CHAT_REDIS_WAIT_REPLICAS": "1"})
    workers.append(start_worker())
    apis.extend([start_api(CHAT_RATE_LIMIT_RPS=0), start_api(CHAT_RATE_LIMIT_RPS=0)])


def tearDownModule():
    try:
        for p in apis + workers:
            p.stop()
    finally:
        settings.restore()
        cluster("redis-down")


def create(client, path, body=None):
    status, payload, _ = client.request("POST", "/api/v1" + path, body)
    assert status == 201, (status, payload)
    return payload


class RedisCluster(unittest.TestCase):
    def test_an_application_spreads_over_the_shards_and_reads_its_writes(self):
        c = Client(apis[0].port)
        token = create(c, "/apps", {"name": unique()})["token"]
        chats = [create(c, f"/apps/{token}/chats")["number"] for _ in range(12)]
        self.assertEqual(chats, list(range(1, 13)))
        # A chat's keys live in the slot of {token:number}: twelve chats land on more than one master.
        masters = {cluster("master-of", f"{{{token}:{n}}}") for n in chats}
        self.assertGreater(len(masters), 1, masters)
        for n in chats[:4]:
            numbers = [create(c, f"/apps/{token}/chats/{n}/messages", {"body": f"m{i}"})["number"]
                       for i in range(3)]
            self.assertEqual(numbers, [1, 2, 3])
            # Read-your-writes from the pending entry (or MariaDB once stored), through the other API.
            status, got, _ = Client(apis[1].port).request("GET", f"/api/v1/apps/{token}/chats/{n}/messages/3")
            self.assertEqual(status, 200, got)
            self.assertEqual(got["body"], "m2")
        self.assertEqual(redis_cli("HGET", f"chat:chat:{{{token}:1}}", "seq"), "3")
        # The worker stores them and clears their pending entries, on whichever master holds each chat.
        for n in chats[:4]:
            wait_until(lambda: redis_cli("HLEN", f"chat:chat:{{{token}:{n}}}:pending") == "0",
                       what=f"chat {n}'s pending entries cleared")

    def test_sigkill_a_master_under_load_loses_and_repeats_nothing(self):
        victim = cluster("master-of", "{slot-zero}")  # whichever master serves that slot now
        took = {}

        def fault():
            started = time.time()
            cluster("kill", victim)
            wait_until(lambda: cluster("master-of", "{slot-zero}") not in ("", victim), timeout=60,
                       what="a replica taking over")
            took["failover_s"] = time.time() - started
            cluster("start", victim)  # it comes back as a replica of the new master
        r = drill(self, "redis-cluster-master", apis, fault, SECONDS, chats=9, retries=8)
        print(f"\nredis cluster drill: master {victim} killed, replica took over in {took['failover_s']:.1f} s; "
              f"{drill_summary(r)}", flush=True)
        cluster("redis-up")  # every node back and in sync before the next test


if __name__ == "__main__":
    unittest.main()
