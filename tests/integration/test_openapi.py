"""The OpenAPI description (src/api/openapi.json): served as is, a valid OpenAPI 3.1 document, and in
step with the routes the server really has. (Every response of every test is validated against it by
harness.Client; this module checks the document itself and the routes.)"""
import http.client
import json
import re
import socket
import unittest

from jsonschema import Draft202012Validator

from harness import SPEC_PATH, Client, check_raw_reply, openapi, start_api, start_worker, unique
from wsclient import WebSocket

procs = []
api = None
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def setUpModule():
    global api
    api = start_api()
    procs.extend([api, start_worker()])


def tearDownModule():
    for p in procs:
        p.stop()


def load_spec():
    with open(SPEC_PATH, "rb") as f:
        return json.load(f)


def walk(node, pointer=""):
    """Every (JSON pointer, value) of a JSON document, depth first."""
    yield pointer, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{pointer}/{k.replace('~', '~0').replace('/', '~1')}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{pointer}/{i}")


def operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, item, op


class Document(unittest.TestCase):
    def test_served_document_is_the_file(self):
        c = Client(api.port)
        status, served, headers = c.request("GET", "/openapi.json")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(served, load_spec())

    def test_is_an_openapi_3_1_document(self):
        spec = load_spec()
        self.assertEqual(spec["openapi"], "3.1.0")
        self.assertTrue(spec["info"]["title"] and spec["info"]["version"])
        self.assertEqual(spec.get("jsonSchemaDialect", "https://spec.openapis.org/oas/3.1/dialect/base"),
                         "https://json-schema.org/draft/2020-12/schema")
        o = openapi()
        # Every $ref resolves (only local references are used).
        refs = [(p, v["$ref"]) for p, v in walk(spec) if isinstance(v, dict) and isinstance(v.get("$ref"), str)]
        self.assertGreater(len(refs), 50)
        for where, ref in refs:
            self.assertTrue(ref.startswith("#/"), f"{where}: non-local $ref {ref}")
            try:
                o.at(ref[1:])
            except (KeyError, IndexError, TypeError):
                self.fail(f"{where}: $ref {ref} does not resolve")
        # Every schema is a valid JSON Schema 2020-12 schema: components/schemas, and each `schema` of
        # a parameter, header or media type.
        schemas = [(f"/components/schemas/{k}", v) for k, v in spec["components"]["schemas"].items()]
        schemas += [(p, v) for p, v in walk(spec) if p.endswith("/schema") and "/properties/" not in p]
        self.assertGreater(len(schemas), 40)
        for where, schema in schemas:
            try:
                Draft202012Validator.check_schema(schema)
            except Exception as e:  # SchemaError
                self.fail(f"{where}: not a valid 2020-12 schema: {e}")
        # Operations: unique ids, a description on every response, every path parameter declared.
        ids = [op["operationId"] for _, _, _, op in operations(spec)]
        self.assertEqual(len(ids), len(set(ids)))
        for path, method, item, op in operations(spec):
            self.assertIn("responses", op, f"{method} {path}")
            for status, resp in op["responses"].items():
                resp, _ = o.resolve(resp, None)
                self.assertTrue(resp.get("description"), f"{method} {path} {status}")
                self.assertIn("X-Request-Id", resp.get("headers", {}), f"{method} {path} {status}")
            params = [o.resolve(p, None)[0] for p in item.get("parameters", []) + op.get("parameters", [])]
            declared = {p["name"] for p in params if p["in"] == "path"}
            self.assertEqual(declared, set(re.findall(r"\{(\w+)\}", path)), f"{method} {path}")
            for p in params:
                if p["in"] == "path":
                    self.assertTrue(p.get("required"), f"{method} {path}: path parameter {p['name']}")
            if path.startswith("/api/v1/apps/{token}"):
                self.assertIn("429", op["responses"], f"{method} {path}: application-scoped")
            self.assertIn("503", op["responses"], f"{method} {path}")

    def test_the_validator_rejects_what_the_document_does_not_say(self):
        # The checks every test relies on: an undocumented field, status or missing header fails.
        o = openapi()
        h = {"x-request-id": "r-1", "content-type": "application/json"}
        o.check("GET", "/healthz", 200, h, b'{"status":"ok"}')
        with self.assertRaises(AssertionError):
            o.check("GET", "/healthz", 200, h, b'{"status":"ok","new_field":1}')
        with self.assertRaises(AssertionError):
            o.check("GET", "/healthz", 404, h, b'{"error":{"code":"not_found","message":"x"}}')
        with self.assertRaises(AssertionError):
            o.check("GET", "/healthz", 200, {"content-type": "application/json"}, b'{"status":"ok"}')
        with self.assertRaises(AssertionError):
            o.check("GET", "/api/v1/apps/x/chats/1/messages/autocomplete?keyword=a", 200, h, b"[]")
        with self.assertRaises(AssertionError):  # a code that does not go with the status
            o.check("GET", "/api/v1/apps/x", 404, h, b'{"error":{"code":"route_not_found","message":"x"}}')
        with self.assertRaises(AssertionError):
            o.check("GET", "/api/v1/apps/x", 429, h, b'{"error":{"code":"rate_limited","message":"x"}}')


class Routes(unittest.TestCase):
    """Every documented operation is routed by the server, and every path answers 405 with exactly the
    documented methods in Allow."""

    @classmethod
    def setUpClass(cls):
        c = cls.c = Client(api.port)
        status, app, _ = c.request("POST", "/api/v1/apps", {"name": unique()})
        assert status == 201, app
        # Every operation is probed with the application's secret, which may call each of them. A second
        # secret is the one the probe of DELETE …/secrets/{secret} revokes (the last one stays: 409).
        cls.auth = {"Authorization": f"Bearer {app['secret']}"}
        status, second, _ = c.request("POST", f"/api/v1/apps/{app['token']}/secrets", headers=cls.auth)
        assert status == 201, second
        cls.ids = {"token": app["token"], "chat": "1", "message": "1", "secret": second["id"], "user": "probe-user"}
        assert c.request("POST", f"/api/v1/apps/{app['token']}/chats")[0] == 201
        assert c.request("POST", f"/api/v1/apps/{app['token']}/chats/1/messages", {"body": "probe"})[0] == 201
        status, minted, _ = c.request("POST", f"/api/v1/apps/{app['token']}/users/reader/tokens", headers=cls.auth)
        assert status == 201, minted
        cls.user_auth = {"Authorization": f"Bearer {minted['token']}"}
        status, hook, _ = c.request("POST", f"/api/v1/apps/{app['token']}/webhooks",
                                    {"url": "https://hooks.example.com/probe", "events": ["*"]}, headers=cls.auth)
        assert status == 201, hook
        cls.ids["webhook"] = hook["id"]

    def concrete(self, template):
        return re.sub(r"\{(\w+)\}", lambda m: self.ids[m.group(1)], template)

    def test_every_documented_operation_is_routed(self):
        o = openapi()
        spec = o.doc
        # Deletions last, the chat's very last (they take away what the other probes use), and a user's
        # erasure is read after it was asked for.
        def rank(o):
            path, method = o[0], o[1]
            return (method == "delete" or path.endswith("/erasure"), path.endswith("/erasure"),
                    method == "delete" and path.endswith("{chat}"))
        ordered = sorted(operations(spec), key=rank)
        for template, method, item, op in ordered:
            with self.subTest(method=method, path=template):
                target = self.concrete(template)
                params = [o.resolve(p, None)[0] for p in item.get("parameters", []) + op.get("parameters", [])]
                query = [f"{p['name']}=probe" for p in params if p["in"] == "query" and p.get("required")]
                if query:
                    target += "?" + "&".join(query)
                if "101" in op["responses"]:
                    # A WebSocket: the handshake is accepted (the socket's frames are tested in test_ws).
                    WebSocket(self.c.port, target).close()
                    continue
                if "text/event-stream" in op["responses"].get("200", {}).get("content", {}):
                    # A stream never ends: read its status line and header, then hang up.
                    conn = http.client.HTTPConnection("127.0.0.1", self.c.port, timeout=10)
                    conn.request(method.upper(), target)
                    r = conn.getresponse()
                    self.assertEqual(r.status, 200)
                    self.assertEqual(r.getheader("Content-Type"), "text/event-stream")
                    conn.close()
                    continue
                body = None
                if "requestBody" in op:
                    schema, _ = o.resolve(op["requestBody"]["content"]["application/json"]["schema"], None)
                    body = schema["examples"][0]
                # Client.request validates the answer against the operation's documented responses.
                # An operation only a user may call (a read marker) is probed with a user token.
                headers = self.user_auth if op.get("security") == [{"userToken": []}] else self.auth
                status, r, _ = self.c.request(method.upper(), target, body, headers=headers)
                self.assertNotEqual(status, 405, r)
                if status == 404:
                    self.assertNotEqual(r["error"]["code"], "route_not_found", r)
                self.assertLess(status, 500, r)
                documented_success = [k for k in op["responses"] if k.startswith("2")]
                if method == "put" and "{message}" in template:
                    self.assertIn(str(status), documented_success + ["409"], r)  # 409 until stored
                else:
                    self.assertIn(str(status), documented_success, r)

    def test_other_methods_answer_405_with_the_documented_ones(self):
        o = openapi()
        for template in o.doc["paths"]:
            with self.subTest(path=template):
                target = self.concrete(template)
                # Every template this concrete path matches (".../messages/search" also matches
                # ".../messages/{message}"): the server allows the union of their methods.
                segs = [s for s in target.split("/") if s]
                allowed = set()
                for t, tsegs, item in o.templates:
                    if len(tsegs) == len(segs) and all(a.startswith("{") or a == b for a, b in zip(tsegs, segs)):
                        allowed |= {m.upper() for m in item if m in HTTP_METHODS}
                if "GET" in allowed:
                    allowed.add("HEAD")  # served wherever GET is (RFC 9110 §9.3.2), implied by the spec
                status, r, h = self.c.request("PATCH", target)  # no route takes PATCH
                self.assertEqual((status, r["error"]["code"]), (405, "method_not_allowed"))
                self.assertEqual(set(h["allow"].split(", ")), allowed)

    def test_unknown_paths(self):
        for target in ("/", "/api", "/api/v1", "/api/v2/apps", "/openapi.yaml", "/healthz/extra",
                       f"/api/v1/apps/{self.ids['token']}/chats/1/messages/1/extra"):
            with self.subTest(target=target):
                status, r, _ = self.c.request("GET", target)
                self.assertEqual((status, r["error"]["code"]), (404, "route_not_found"))


class RawHttp(unittest.TestCase):
    """Answers to requests that never reach a handler are documented too."""

    def exchange(self, data):
        s = socket.create_connection(("127.0.0.1", api.port), timeout=10)
        try:
            s.sendall(data)
            reply = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return reply
                reply += chunk
        finally:
            s.close()

    def test_malformed_oversized_and_bad_targets(self):
        cases = [
            ("GET", "/healthz", b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
            ("GET", "/healthz", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431),
            ("POST", "/api/v1/apps", b"POST /api/v1/apps HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{", 413),
            ("GET", "/nowhere", b"GET /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n", 413),
            ("GET", "/healthz", b"GET /healthz%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400),
        ]
        for method, target, data, expected in cases:
            with self.subTest(target=target, expected=expected):
                status, body, _ = check_raw_reply(method, target, self.exchange(data))
                self.assertEqual(status, expected, body)


if __name__ == "__main__":
    unittest.main()
