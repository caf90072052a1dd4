"""The service on a real RabbitMQ cluster (scripts/cluster.sh: 3 brokers on the test stack's AMQP
port + 1..3), with our queues as quorum queues, replicated on all three. Both binaries get the broker
list through CHAT_AMQP_NODES alone and try its addresses in turn.

The drill SIGKILLs the broker that leads the events queue under load through two API servers, starts
it again, and has chat_load --verify check that nothing acknowledged was lost or duplicated.
"""
import json
import os
import subprocess
import threading
import time
import unittest

from harness import LOG_DIR, ROOT, env, start_api, start_worker

LOAD_BIN = os.environ.get("CHAT_LOAD_BIN", "")
SECONDS = max(15.0, float(os.environ.get("CHAT_DRILL_SECONDS", "9")))
CLUSTER = os.path.join(ROOT, "scripts", "cluster.sh")

apis, workers = [], []
saved_env = {}


def cluster(*args):
    return subprocess.run([CLUSTER, *args], check=True, capture_output=True, text=True).stdout.strip()


def brokers():
    line = [l for l in cluster("env").splitlines() if "CHAT_AMQP_NODES" in l][0]
    return line.split("=", 1)[1].split("'")[1]


def rabbitmqctl_json(port, *args):
    """rabbitmqctl against the broker on `port`, through the script's environment for it."""
    return json.loads(cluster("rabbitmqctl", str(port), "-q", *args, "--formatter", "json"))


def setUpModule():
    if not os.path.exists(LOAD_BIN):
        raise RuntimeError(f"CHAT_LOAD_BIN must name the chat_load binary, got {LOAD_BIN!r}")
    cluster("rabbitmq-up")
    for k, v in {"CHAT_AMQP_NODES": brokers(), "CHAT_AMQP_QUEUE_TYPE": "quorum"}.items():
        saved_env[k] = os.environ.get(k)
        os.environ[k] = v
    workers.append(start_worker())
    apis.extend([start_api(CHAT_RATE_LIMIT_RPS=0), start_api(CHAT_RATE_LIMIT_RPS=0)])


def tearDownModule():
    try:
        for p in apis + workers:
            p.stop()
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
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
        os.makedirs(LOG_DIR, exist_ok=True)
        report = os.path.join(LOG_DIR, "drill-rabbitmq-cluster-leader.json")
        log = open(os.path.join(LOG_DIR, "drill-rabbitmq-cluster-leader.log"), "wb")
        targets = ",".join(f"http://127.0.0.1:{a.port}" for a in apis)
        load = subprocess.Popen(
            [LOAD_BIN, "--targets", targets, "--connections", "16", "--duration", f"{SECONDS}s",
             "--apps", "3", "--chats", "5", "--retries", "8", "--timeout", "15s", "--verify",
             "--drain-timeout", "180s", "--json", report, "--quiet"],
            env=env(), stdout=log, stderr=subprocess.STDOUT)
        time.sleep(SECONDS / 3)
        errors = []

        def fault():
            try:
                cluster("rabbitmq-kill", victim)
                time.sleep(3)
                cluster("rabbitmq-start", victim)
            except Exception as e:  # reported after the load, with the verification
                errors.append(e)
        t = threading.Thread(target=fault)
        t.start()
        rc = load.wait(timeout=SECONDS + 600)
        t.join()
        log.close()
        if errors:
            raise errors[0]
        with open(report) as f:
            r = json.load(f)
        self.assertEqual(rc, 0, f"chat_load failed, see {log.name} and {report}")
        acknowledged = sum(op["ok"] for name, op in r["operations"].items() if name.startswith("create_"))
        self.assertGreater(acknowledged, 0)
        internal = [e for e in r["errors"] if e["kind"].startswith("500")]
        self.assertEqual(internal, [], f"the broker's death surfaced as 500, see the API logs in {LOG_DIR}")
        print(f"\nrabbitmq cluster drill: leader {leader} killed and restarted; {acknowledged} creations "
              f"acknowledged; errors: {r['errors']}", flush=True)


if __name__ == "__main__":
    unittest.main()
