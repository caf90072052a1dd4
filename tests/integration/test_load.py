"""chat_load against two API servers and a worker: a short verified load, then the verifier catching
what must never happen (a stored body that is not the acknowledged one, an acknowledged message gone)."""
import json
import os
import subprocess
import tempfile
import unittest

from harness import LOG_DIR, ROOT, app_id, env, sql, start_api, start_worker
from webhook_receiver import Receiver

LOAD_BIN = os.environ.get("CHAT_LOAD_BIN", os.path.join(ROOT, "build", "debug", "bench", "load", "chat_load"))

procs = []
apis = []


def setUpModule():
    # The per-application rate limit would answer 429 to a load on few applications.
    apis.extend([start_api(CHAT_RATE_LIMIT_RPS=0), start_api(CHAT_RATE_LIMIT_RPS=0)])
    procs.extend(apis + [start_worker()])


def tearDownModule():
    for p in procs:
        p.stop()


def chat_load(name, *args):
    """Runs chat_load with the servers' settings; its output is kept in the test logs."""
    os.makedirs(LOG_DIR, exist_ok=True)
    out = subprocess.run([LOAD_BIN, "--quiet", *args], env=env(), capture_output=True, text=True, timeout=600)
    with open(os.path.join(LOG_DIR, f"chat_load-{name}.log"), "w") as f:
        f.write(out.stdout + out.stderr)
    for marker in ("ERROR: AddressSanitizer", "runtime error:", "WARNING: ThreadSanitizer"):
        assert marker not in out.stderr, f"sanitizer report from chat_load ({name})"
    return out


def verify_only(directory, name, record_lines):
    path = os.path.join(directory, f"{name}.tsv")
    with open(path, "w") as f:
        f.write("\n".join(record_lines) + "\n")
    # Short waits: what the negative runs look for never settles.
    return chat_load(name, "--verify-only", path, "--drain-timeout", "3s", "--count-timeout", "2s")


class Load(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="chat_load-")
        cls.report = os.path.join(cls.dir, "report.json")
        cls.record = os.path.join(cls.dir, "record.tsv")
        # Every application the run creates gets a webhook on "*" to a loopback receiver: --verify counts
        # the deliveries against the acknowledged creations.
        cls.receiver = Receiver()
        targets = ",".join(f"http://127.0.0.1:{a.port}" for a in apis)
        # Open loop at a small rate: enough to touch every operation, short enough for the suite.
        cls.result = chat_load("verified", "--targets", targets, "--rate", "80", "--connections", "8", "--duration",
                            "5s", "--apps", "2", "--chats", "4", "--replay", "0.05", "--lag-sample", "0.2",
                            "--delete-percent", "20", "--delete-delay", "1s", "--webhook",
                            cls.receiver.url(), "--verify", "--json", cls.report, "--record", cls.record)
        with open(cls.record) as f:
            cls.lines = f.read().splitlines()
        # Before any test alters the stored data.
        cls.clean = verify_only(cls.dir, "clean", cls.lines)

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()

    def test_a_verified_run_exits_0_with_a_sane_report(self):
        self.assertEqual(self.result.returncode, 0, self.result.stdout + self.result.stderr)
        with open(self.report) as f:
            r = json.load(f)
        self.assertTrue(r["ok"])
        self.assertEqual(r["bad_failures"], 0)
        self.assertEqual(r["wrong_numbers"], 0)
        ops = r["operations"]
        self.assertGreater(ops["create_message"]["count"], 0)
        self.assertGreater(r["total"]["count"], 0)
        self.assertGreater(r["total"]["throughput"], 0)
        for name, op in ops.items():
            lat = op["latency_ms"]
            self.assertLessEqual(lat["p50"], lat["p90"], name)
            self.assertLessEqual(lat["p90"], lat["p99"], name)
            self.assertLessEqual(lat["p99"], lat["p99_9"], name)
            self.assertLessEqual(lat["p99_9"], lat["max"], name)
            self.assertGreater(lat["max"], 0, name)
        v = r["verify"]
        self.assertTrue(v["ok"], v["violations"])
        self.assertTrue(v["drain"]["drained"])
        for kind in ("apps", "chats", "messages"):
            self.assertGreater(v[kind]["acknowledged"], 0, kind)
            self.assertEqual(v[kind]["acknowledged"], v[kind]["stored"], kind)
        self.assertEqual(v["messages"]["acknowledged"], r["acknowledged"]["messages"])
        self.assertEqual(v["search"]["chats_checked"], v["search"]["chats_matching"])
        self.assertTrue(v["counts"]["settled"])
        self.assertGreater(v["lag_ms"]["stored"]["count"], 0)
        self.assertGreater(v["lag_ms"]["searchable"]["count"], 0)
        self.assertEqual(v["lag_ms"]["unresolved"], 0)
        # Every acknowledged creation recorded once for its application's endpoint and delivered.
        hooks = v["webhooks"]
        self.assertGreater(hooks["endpoints"], 0)
        self.assertEqual((hooks["missing"], hooks["duplicated"], hooks["failed"], hooks["pending"]), (0, 0, 0, 0))
        self.assertEqual(hooks["recorded"] + hooks["deleted_unrecorded"], hooks["acknowledged"])
        self.assertEqual(hooks["delivered"], hooks["recorded"])
        self.assertGreaterEqual(len({r.id for r in self.receiver.requests()}), hooks["delivered"])
        # A fifth of the run's messages deleted through the API, some before they were stored: every
        # acknowledged deletion erased, nothing else.
        d = v["deletions"]
        self.assertGreater(d["acknowledged"], 0)
        self.assertEqual(d["erased"], d["acknowledged"])
        self.assertEqual(d["violations"], 0)
        self.assertIn("no violation", self.result.stdout)
        # The record holds exactly what the report counted.
        self.assertEqual(sum(1 for l in self.lines if l.startswith("message\t")), r["acknowledged"]["messages"])

    def test_the_record_verifies_clean_on_its_own(self):
        self.assertEqual(self.clean.returncode, 0, self.clean.stdout + self.clean.stderr)

    def test_a_body_that_differs_from_the_acknowledged_one_is_a_violation(self):
        lines = list(self.lines)
        i = next(k for k, l in enumerate(lines) if l.startswith("message\t"))
        fields = lines[i].split("\t")
        fields[4] = "%016x" % (int(fields[4], 16) ^ 1)
        lines[i] = "\t".join(fields)
        out = verify_only(self.dir, "wrong-hash", lines)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn(f"message {fields[1]}/{fields[2]}/{fields[3]}: the stored body differs", out.stdout)

    def test_an_acknowledged_message_missing_from_mariadb_is_a_violation(self):
        # The last acknowledged message of a chat: deleting it leaves no hole, so only the
        # acknowledgement check can notice.
        # A chat whose last message the run did not delete (a tombstone is checked otherwise).
        messages = [l.split("\t") for l in self.lines if l.startswith("message\t")]
        deleted = {tuple(l.split("\t")[1:4]) for l in self.lines if l.startswith("deleted\t")}
        last_of = {}
        for m in messages:
            last_of[(m[1], m[2])] = max(last_of.get((m[1], m[2]), 0), int(m[3]))
        token, chat, last = next((t, c, n) for (t, c), n in reversed(last_of.items())
                                 if (t, c, str(n)) not in deleted)
        sql(f"DELETE FROM messages WHERE application_id = {app_id(token)} AND chat_number = {chat} "
            f"AND number = {last}")
        out = verify_only(self.dir, "deleted-row", self.lines)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn(f"[stored] message {token}/{chat}/{last} acknowledged but not stored", out.stdout)
        self.assertIn(f"[search] chat {token}/{chat}:", out.stdout)  # Elasticsearch still has it

    def test_usage_errors_exit_2_and_help_exits_0(self):
        self.assertEqual(chat_load("usage", "--connections", "0").returncode, 2)
        self.assertEqual(chat_load("usage", "--mix", "create_message=1,nope=2").returncode, 2)
        self.assertEqual(chat_load("usage", "--verify-only", os.path.join(self.dir, "absent.tsv")).returncode, 2)
        out = chat_load("help", "--help")
        self.assertEqual(out.returncode, 0)
        self.assertIn("--verify-only", out.stdout)


if __name__ == "__main__":
    unittest.main()
