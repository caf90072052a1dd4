"""The API with a MariaDB replica (scripts/cluster.sh mysql-up: a primary and a replica with binlog
replication on the test stack's MariaDB port + 1 and + 2). Lists are read from the replica and may lag;
everything that must see its own writes reads the primary; when the replica is down, lists fall back
to the primary.
"""
import contextlib
import os
import subprocess
import time
import unittest

from harness import (VAR_DIR, Client, cluster, drill, drill_summary, drop_search_index, module_env, redis_cli,
                     require_load_bin, sql, start_api, start_worker, unique, wait_until)

SECONDS = max(15.0, float(os.environ.get("CHAT_DRILL_SECONDS", "9")))
BASE = int(os.environ.get("CHAT_MYSQL_PORT", "13307"))
PRIMARY, REPLICA = BASE + 1, BASE + 2

procs = []
settings = module_env()



def on_replica_as_root(statement):
    """The statement's output (tab-separated, no column names) on the replica, as root."""
    sock = os.path.join(VAR_DIR, "cluster", f"mysql-{REPLICA}.sock")
    return subprocess.run(["mariadb", "--no-defaults", f"--socket={sock}", "-u", "root", "-N", "-B", "-e", statement],
                          check=True, capture_output=True, text=True).stdout.strip()


@contextlib.contextmanager
def replica_paused():
    """The replica receives the binlog but applies nothing until the block ends."""
    on_replica_as_root("STOP SLAVE SQL_THREAD")
    try:
        yield
    finally:
        on_replica_as_root("START SLAVE SQL_THREAD")


def app_with_a_chat(c):
    """The token of a new application that has chat 1."""
    s, app, _ = c.request("POST", "/api/v1/apps", {"name": unique()})
    assert s == 201, app
    assert c.request("POST", f"/api/v1/apps/{app['token']}/chats")[0] == 201
    return app["token"]


def setUpModule():
    require_load_bin()
    cluster("mysql-up")
    # The cluster's database may be new (its data directory wiped) while the stack's Elasticsearch
    # keeps this module's index: ids would start again at 1 and meet the old documents.
    drop_search_index(os.environ.get("CHAT_ES_URL", "http://127.0.0.1:19201"), "messages_replica_test")
    # Another database means other application ids: its messages get a search index of their own,
    # or its ids would meet the stack database's documents in the shared one.
    settings.set({"CHAT_MYSQL_PORT": str(PRIMARY), "CHAT_MYSQL_REPLICA_PORT": str(REPLICA),
                 "CHAT_ES_INDEX": "messages_replica_test"})
    procs.append(start_worker())  # returns once the worker's index exists
    procs.extend([start_api(CHAT_RATE_LIMIT_RPS=0), start_api(CHAT_RATE_LIMIT_RPS=0)])


def tearDownModule():
    try:
        for p in procs:
            p.stop()
    finally:
        settings.restore()
        cluster("mysql-down")


class MysqlReplica(unittest.TestCase):
    def test_lists_read_the_replica_and_fall_back_to_the_primary(self):
        c = Client(procs[1].port)
        token = app_with_a_chat(c)
        base = f"/api/v1/apps/{token}/chats/1/messages"

        def listed():
            s, page, _ = c.request("GET", base)
            return [m["number"] for m in page["messages"]] if s == 200 else None
        self.assertEqual(c.request("POST", base, {"body": "one"})[0], 201)
        wait_until(lambda: listed() == [1], what="message 1 listed")

        # The replica stops applying: a new message is stored on the primary and readable by number
        # there, but the list (from the replica) does not show it yet.
        with replica_paused():
            self.assertEqual(c.request("POST", base, {"body": "two"})[0], 201)
            wait_until(lambda: sql(f"SELECT COUNT(*) FROM messages m JOIN applications a ON a.id = m.application_id "
                                   f"WHERE a.token = '{token}'") == [["2"]], what="message 2 stored on the primary")
            s, got, _ = c.request("GET", f"{base}/2")
            self.assertEqual((s, got["body"]), (200, "two"))
            self.assertEqual(listed(), [1], "the list did not come from the replica")
        wait_until(lambda: listed() == [1, 2], what="the replica catching up")

        # The replica down: lists come from the primary.
        cluster("mysql-stop", str(REPLICA))
        try:
            self.assertEqual(c.request("POST", base, {"body": "three"})[0], 201)
            wait_until(lambda: listed() == [1, 2, 3], what="message 3 listed from the primary")
        finally:
            cluster("mysql-start", str(REPLICA))

    def test_a_chat_is_read_from_the_replica_and_one_it_lacks_from_the_primary(self):
        c = Client(procs[1].port)
        token = app_with_a_chat(c)
        db = os.environ.get("CHAT_MYSQL_DATABASE", "chat")
        chats = f"FROM chats c JOIN applications a ON a.id = c.application_id WHERE a.token = '{token}'"
        wait_until(lambda: on_replica_as_root(f"USE {db}; SELECT COUNT(*) {chats}") == "1", what="chat 1 on the replica")

        with replica_paused():
            # A count changed on the primary only: the chat (and its count) comes from the replica.
            sql(f"UPDATE chats c JOIN applications a ON a.id = c.application_id SET c.messages_count = 7 "
                f"WHERE a.token = '{token}' AND c.number = 1")
            s, chat, _ = c.request("GET", f"/api/v1/apps/{token}/chats/1")
            self.assertEqual((s, chat["messages_count"]), (200, 0), "the chat did not come from the replica")

            # A chat the replica lacks is asked of the primary. Its Redis hash is deleted so that only
            # MySQL can answer; the worker registers a stored chat once, so a hash still absent after
            # the GET was absent during it.
            self.assertEqual(c.request("POST", f"/api/v1/apps/{token}/chats")[0], 201)
            wait_until(lambda: sql(f"SELECT COUNT(*) {chats} AND c.number = 2") == [["1"]],
                       what="chat 2 stored on the primary")
            key = f"chat:chat:{{{token}:2}}"

            def read_with_no_hash():
                redis_cli("DEL", key)
                s, chat, _ = c.request("GET", f"/api/v1/apps/{token}/chats/2")
                return (s, chat.get("number")) if redis_cli("EXISTS", key) == "0" else None
            self.assertEqual(wait_until(read_with_no_hash, what="a read of chat 2 with no Redis hash"), (200, 2))

    def test_stop_the_replica_under_load_loses_nothing(self):
        def fault():
            cluster("mysql-stop", str(REPLICA))
            time.sleep(3)
            cluster("mysql-start", str(REPLICA))
        r = drill(self, "mysql-replica-stop", procs[1:], fault, SECONDS)
        print(f"\nmysql replica drill: replica stopped 3 s and started again; {drill_summary(r)}", flush=True)


if __name__ == "__main__":
    unittest.main()
