"""The deployment files agree with the scripts: one Elasticsearch version, the settings the code reads."""
import os
import re
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


class DeployFiles(unittest.TestCase):
    def test_compose_runs_the_pinned_elasticsearch_version(self):
        pinned = re.search(r"^ES_VERSION=(\S+)$", read("scripts/versions.env"), re.M).group(1)
        images = re.findall(r"docker\.elastic\.co/elasticsearch/elasticsearch:(\S+)", read("docker-compose.yml"))
        self.assertTrue(images, "no Elasticsearch image in docker-compose.yml")
        self.assertEqual(set(images), {pinned})

    def test_compose_sets_only_settings_the_code_reads(self):
        known = set(re.findall(r'"(CHAT_[A-Z0-9_]+)"', read("src/core/config.cpp")))
        used = set(re.findall(r"^\s*(CHAT_[A-Z0-9_]+):", read("docker-compose.yml"), re.M))
        self.assertTrue(used)
        # CHAT_LB_PORT and the like belong to compose itself, not to our binaries.
        self.assertEqual(sorted(u for u in used - known if not u.startswith("CHAT_LB_")), [])


if __name__ == "__main__":
    unittest.main()
