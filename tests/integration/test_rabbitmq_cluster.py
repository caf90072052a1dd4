"""The service on a real RabbitMQ cluster (scripts/cluster.sh: 3 brokers on the test stack's AMQP
port + 1..3), with our queues as quorum queues, replicated on all three. Both binaries get the broker
list through CHAT_AMQP_NODES alone and try its addresses in turn.

The drill SIGKILLs the broker that leads the events queue under load through two API servers, starts
it again, and has chat_load --verify check that nothing acknowledged was lost or duplicated.
"""
import json
import os
import time
import unittest

from harness import cluster, drill, drill_summary, module_env, require_load_bin, start_api, start_worker

SECONDS = max(15.0, float(os.environ.get("CHAT_DRILL_SECONDS", "9")))

apis, workers = [], []
settings = module_env()



def brokers():
    line = [l for l in cluster("env").splitlines() if "CHAT_AMQP_NODES" in l][0]
    return line.split("=", 1)[1].split("'")[1]


def rabbitmqctl_json(port, *args):
    """rabbitmqctl against the broker on `port`, through the script's environment for it."""
    return json.loads(cluster("rabbitmqctl", str(port), "-q", *args, "--formatter", "json"))


def setUpModule():
    require_load_bin()
    cluster("rabbitmq-up")
    settings.set({"CHAT_AMQP_NODES": brokers(), "CHAT_AMQP_QUEUE_TYPE": "quorum"})
    workers.append(start_worker())
    apis.extend([start_api(CHAT_RATE_LIMIT_RPS=0), start_api(CHAT_RATE_LIMIT_RPS=0)])


def tearDownModule():
    try:
        for p in apis + workers:
            p.stop()
    finally:
        settings.restore()
        cluster("rabbitmq-down")


def queue(port, name):
    return [q for q in rabbitmqctl_json(port, "list_queues", "name", "type", "leader", "members") if q["name"] == name][0]


class RabbitmqCluster(unittest.TestCase):
    def test_our_queues_are_quorum_queues_on_all_three_brokers(self):
        port = brokers().split(",")[0].rsplit(":", 1)[1]
        for name in ("chat.events", "chat.events.dead"):
            q = queue(port, name)
            self.assertEqual(q["type"], "quorum", q)
            self.assertEqual(len(q["members"]), 3, q)

    def test_sigkill_the_queue_leader_under_load_loses_nothing(self):
        ports = [b.rsplit(":", 1)[1] for b in brokers().split(",")]
        leader = queue(ports[0], "chat.events")["leader"]  # chatcPORT@localhost
        victim = leader.split("@")[0].removeprefix("chatc")

        def fault():
            cluster("rabbitmq-kill", victim)
            time.sleep(3)
            cluster("rabbitmq-start", victim)
        r = drill(self, "rabbitmq-cluster-leader", apis, fault, SECONDS, retries=8)
        print(f"\nrabbitmq cluster drill: leader {leader} killed and restarted; {drill_summary(r)}", flush=True)


if __name__ == "__main__":
    unittest.main()
