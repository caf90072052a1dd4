"""The demo client (GET /demo) in a real browser: headless Chromium from Debian driven by Selenium
(python3-selenium, chromium, chromium-driver; scripts/install-deps.sh). Two API servers and a worker run
against the test stack; one page on each server opens the same application and chat through the UI,
each sends a message, and each must show the other's live (the fan-out crosses servers), an edit made
on one page shows in place on the other, and search finds a sent message once it is stored. The
message lifecycle: a deleted message stays a tombstone, an edited one shows its history, a user's unread
counts drop once it viewed a chat, and a deleted chat shows as deleted.

Runs with Debian's python (/usr/bin/python3, which sees python3-selenium): `make test` runs it through
ctest (tests/CMakeLists.txt, test `browser`). A missing browser, driver or Selenium is a failure, not a
skip: the page must be tested wherever `make test` runs."""
import os
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

import harness  # noqa: E402
from harness import Client, app_id, sql, start_api, start_worker, unique, wait_until  # noqa: E402

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as e:  # a failure, not a skip
    raise ImportError(f"the browser test needs python3-selenium under {sys.executable} "
                      "(scripts/install-deps.sh; run it with /usr/bin/python3)") from e

CHROMIUM = os.environ.get("CHAT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHAT_CHROMEDRIVER", "/usr/bin/chromedriver")
# Where to save a screenshot of the page with messages in it (optional).
SCREENSHOT = os.environ.get("CHAT_DEMO_SCREENSHOT")
WAIT_S = 60  # waits that need the worker to store: generous for a loaded CI machine, they end as soon as met

procs = []
api_a = api_b = None


def setUpModule():
    global api_a, api_b
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise RuntimeError(f"{path} is missing: install chromium and chromium-driver (scripts/install-deps.sh)")
    api_a = start_api(CHAT_RATE_LIMIT_RPS=0)
    api_b = start_api(CHAT_RATE_LIMIT_RPS=0)
    procs.extend([api_a, api_b, start_worker()])


def tearDownModule():
    for p in procs:
        p.stop()


def browser(profile_dir):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    # A container has no user namespaces for the sandbox and a small /dev/shm.
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                f"--user-data-dir={profile_dir}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


class Page:
    """One browser window on one API server's /demo."""

    def __init__(self, test, port, name):
        self.test = test
        self.profile = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"chat-demo-{os.getpid()}-{name}")
        shutil.rmtree(self.profile, ignore_errors=True)
        self.d = browser(self.profile)
        self.d.get(f"http://127.0.0.1:{port}/demo")

    def close(self):
        try:
            self.d.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def wait(self, predicate, what):
        def check(_):
            try:
                return predicate()
            except StaleElementReferenceException:
                return False
        try:
            return WebDriverWait(self.d, WAIT_S, poll_frequency=0.1).until(check)
        except TimeoutException:  # what the page shows now, when the wait gave up
            raise TimeoutException(f"{what}; {self.state()}") from None

    def state(self):
        """What the page shows, for failure messages."""
        js = ("const t = (id) => { const e = document.getElementById(id); return e ? e.textContent : null; };"
              "return {live: t('live-text'), banner: document.getElementById('banner').hidden ? null :"
              " t('banner-text'), messages: Array.from(document.querySelectorAll('#message-list .bubble'),"
              " (b) => b.textContent)};")
        return f"page state: {self.d.execute_script(js)}; console: {self.console()}"

    def console(self):
        try:
            return [e["message"] for e in self.d.get_log("browser")][-5:]
        except Exception:  # noqa: BLE001 - only for diagnostics
            return []

    def el(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def type_into(self, css, text, submit=None):
        e = self.el(css)
        e.clear()
        e.send_keys(text)
        if submit:
            self.el(submit).click()

    def live(self):
        return self.el("#live").get_attribute("data-state") == "live"

    def bubbles(self):
        return {int(li.get_attribute("data-number")): li.find_element(By.CSS_SELECTOR, ".bubble").text
                for li in self.d.find_elements(By.CSS_SELECTOR, "#message-list > li")}

    def banner(self):
        b = self.el("#banner")
        return None if not b.is_displayed() else self.el("#banner-text").text

    def message(self, n):
        return self.el(f'#message-list li[data-number="{n}"]')

    def unread(self, chat):
        """The chat's unread badge as shown: None when the page shows none (hidden or absent). Read in
        one script call: the badge may change between two."""
        return self.d.execute_script(
            "const b = document.querySelector(`#chat-list button[data-chat=\"${arguments[0]}\"] .unread`);"
            "return b && !b.hidden ? Number(b.textContent) : null;", chat)

    def sign_in(self, secret, user):
        self.wait(lambda: self.el("#secret-form").is_displayed() or self.el("#secret-held").is_displayed(),
                  "the access panel")
        if self.el("#secret-form").is_displayed():
            self.type_into("#secret-input", secret, submit="#use-secret")
            self.wait(lambda: self.el("#secret-held").is_displayed(), "the secret held")
        self.type_into("#user-input", user, submit="#sign-in")
        self.wait(lambda: self.el("#signed-in-user").text == user, f"signed in as {user}")

    def severe(self):
        return [e["message"] for e in self.d.get_log("browser") if e["level"] == "SEVERE"]


class DemoPage(unittest.TestCase):
    def setUp(self):
        self.pages = []

    def tearDown(self):
        for p in self.pages:
            p.close()

    def test_two_pages_on_two_servers_see_each_other(self):
        a = Page(self, api_a.port, "a")
        self.pages.append(a)
        b = Page(self, api_b.port, "b")
        self.pages.append(b)

        # Page A creates an application and a chat through the UI.
        app_name = unique("demo")
        a.type_into("#app-name-input", app_name, submit="#create-app")
        a.wait(lambda: a.el("#app-badge").is_displayed() and a.el("#app-token").text, "application created")
        token = a.el("#app-token").text
        self.assertEqual(a.el("#app-name").text, app_name)
        a.el("#new-chat").click()
        a.wait(lambda: a.el("#chat-view").is_displayed() and a.live(), "chat opened and live on page A")
        self.assertEqual(a.el("#chat-title").text, "Chat #1")
        # Listed (and marked current) at once, though the worker may not have stored it yet.
        self.assertEqual(a.el('#chat-list button[data-chat="1"]').get_attribute("aria-current"), "true")

        # Page B, on the other server, opens the same application by its token and picks the chat.
        b.type_into("#token-input", token, submit="#open-app")
        # The list shows stored chats, read once when the application opens: until the worker stored
        # the chat, B's list is empty, so the test clicks "reload" as a person would.
        def chat_listed():
            if b.d.find_elements(By.CSS_SELECTOR, '#chat-list button[data-chat="1"]'):
                return True
            b.el("#refresh-chats").click()
            time.sleep(0.5)
            return False
        b.wait(chat_listed, "chat list on B")
        b.el('#chat-list button[data-chat="1"]').click()
        b.wait(lambda: b.el("#chat-view").is_displayed() and b.live(), "chat opened and live on page B")

        # Each page sends one message through the composer; each shows both, the other's live.
        from_a = "hello from server A " + unique("w")
        from_b = "and hello back from B " + unique("w")
        a.type_into("#message-input", from_a)
        a.el("#send").click()
        a.wait(lambda: from_a in a.bubbles().values(), "page A shows its own message")
        b.wait(lambda: from_a in b.bubbles().values(), "page B shows A's message live")
        b.type_into("#message-input", from_b + Keys.ENTER)  # Enter sends
        b.wait(lambda: from_b in b.bubbles().values(), "page B shows its own message")
        a.wait(lambda: from_b in a.bubbles().values(), "page A shows B's message live")
        self.assertEqual(a.bubbles(), {1: from_a, 2: from_b})
        self.assertEqual(b.bubbles(), {1: from_a, 2: from_b})
        # A page's own messages are told apart from the others'.
        self.assertIn("mine", a.el('#message-list li[data-number="1"]').get_attribute("class"))
        self.assertNotIn("mine", a.el('#message-list li[data-number="2"]').get_attribute("class"))

        # The same messages through the API, as stored or pending: the page showed what the server has.
        c = Client(api_a.port)
        for n, body in ((1, from_a), (2, from_b)):
            status, m, _ = c.request("GET", f"/api/v1/apps/{token}/chats/1/messages/{n}")
            self.assertEqual((status, m["body"]), (200, body))

        # Search on page B finds A's message once the worker stored and indexed it, with the fragment
        # highlighted.
        fragment = from_a.split()[-1][3:9]  # inside the unique word: a fragment, not a prefix

        def found():
            b.type_into("#search-input", fragment, submit="#search-go")
            hits = b.wait(lambda: (b.el("#search-go").is_enabled()
                                   and b.d.find_elements(By.CSS_SELECTOR, "#search-results li")) or
                          ("match" in b.el("#search-status").text or "Nothing" in b.el("#search-status").text),
                          "a search answered")
            return [h for h in (hits if isinstance(hits, list) else []) if h.get_attribute("data-number") == "1"]
        hit = WebDriverWait(b.d, WAIT_S, poll_frequency=0.5).until(lambda _: found(), "search finds A's message")
        self.assertIn(fragment, hit[0].find_element(By.CSS_SELECTOR, "em").text.lower())
        self.assertIn("1 message", b.el("#search-status").text)

        # An edit on page A of B's message (once stored: before, the API answers 409) shows in place on
        # page B.
        wait_until(lambda: sql(f"SELECT COUNT(*) FROM messages WHERE application_id = {app_id(token)} "
                               "AND chat_number = 1 AND number = 2") == [["1"]], timeout=WAIT_S,
                   what="message 2 stored")
        edited = from_b + " (edited)"
        a.el('#message-list li[data-number="2"] .meta button.edit').click()
        box = a.el('#message-list li[data-number="2"] .edit-form textarea')
        box.clear()
        box.send_keys(edited)
        a.el('#message-list li[data-number="2"] .edit-form button[type="submit"]').click()
        a.wait(lambda: a.bubbles().get(2) == edited, "page A shows its edit")
        b.wait(lambda: b.bubbles().get(2) == edited, "page B shows A's edit live")
        self.assertIn("edited", b.el('#message-list li[data-number="2"] .meta').text)
        self.assertEqual(len(b.bubbles()), 2)

        # Nothing went wrong in either page so far: no script error, no refused request, no CSP report.
        for p in (a, b):
            severe = [e["message"] for e in p.d.get_log("browser") if e["level"] == "SEVERE"]
            self.assertEqual(severe, [], p.state())

        # An API error is shown as the API put it: a chat that does not exist.
        b.d.execute_script("location.hash = '#app=' + arguments[0] + '&chat=999'; location.reload();", token)
        b.wait(lambda: b.banner() and "chat not found" in b.banner(), "the API's error on page B")
        self.assertIn("not_found", b.banner())
        self.assertTrue(b.el("#app-badge").is_displayed(), "the application stays open")
        self.assertEqual(a.banner(), None, a.state())

        if SCREENSHOT:
            a.type_into("#search-input", "hello", submit="#search-go")
            a.wait(lambda: len(a.d.find_elements(By.CSS_SELECTOR, "#search-results li")) == 2, "search on A")
            a.d.save_screenshot(SCREENSHOT)

    def test_a_restricted_application_shows_each_user_only_its_chats(self):
        a = Page(self, api_a.port, "owner")
        self.pages.append(a)
        b = Page(self, api_b.port, "second")
        self.pages.append(b)
        # Page A creates the application (the page now holds its secret), restricts it and signs in as ann.
        a.type_into("#app-name-input", unique("restricted"), submit="#create-app")
        a.wait(lambda: a.el("#secret-held").is_displayed(), "the secret held by the page")
        token = a.el("#app-token").text
        a.el("#toggle-access").click()
        a.wait(lambda: "restricted" in a.el("#access-mode").text, "the application restricted")
        # Without a credential the API now refuses: the secret stays in the page only.
        status, _, _ = Client(api_a.port).request("GET", f"/api/v1/apps/{token}")
        self.assertEqual(status, 401)
        self.assertNotIn("sk_", a.d.execute_script("return JSON.stringify(localStorage)"))
        self.assertNotIn("sk_", a.d.current_url)
        # Shown once, for the person to copy to their server (as the API shows it once).
        secret = a.el("#secret-value").text
        self.assertTrue(secret.startswith("sk_"), secret)
        a.type_into("#user-input", "ann", submit="#sign-in")
        a.wait(lambda: a.el("#signed-in").is_displayed() and a.el("#signed-in-user").text == "ann", "signed in as ann")
        # ann creates two chats and writes in the first.
        for _ in range(2):
            a.el("#new-chat").click()
            a.wait(lambda: a.el("#chat-view").is_displayed() and a.live(), "ann's chat open")
        a.el('#chat-list button[data-chat="1"]').click()
        a.wait(lambda: a.el("#chat-title").text == "Chat #1" and a.live(), "chat 1 open")
        hello = "hello bob " + unique("w")
        a.type_into("#message-input", hello + Keys.ENTER)
        a.wait(lambda: hello in a.bubbles().values(), "ann's message shown")
        mine = a.el('#message-list li[data-number="1"]')
        self.assertIn("mine", mine.get_attribute("class"))  # on the right
        self.assertEqual(mine.find_element(By.CSS_SELECTOR, ".sender").text, "ann")

        # Page B, on the other server, opens the application: restricted, it asks for the secret.
        b.type_into("#token-input", token, submit="#open-app")
        b.wait(lambda: b.banner() and "unauthorized" in b.banner(), "the 401 shown")
        self.assertTrue(b.el("#secret-form").is_displayed())
        # The person pastes the secret they copied from page A.
        b.type_into("#secret-input", secret, submit="#use-secret")
        b.wait(lambda: b.el("#secret-held").is_displayed(), "page B holds the secret")
        b.type_into("#user-input", "bob", submit="#sign-in")
        b.wait(lambda: b.el("#signed-in-user").text == "bob", "signed in as bob")
        wait_until(lambda: sql(f"SELECT COUNT(*) FROM chats WHERE application_id = {app_id(token)}") == [["2"]],
                   timeout=WAIT_S, what="both chats stored")
        b.el("#refresh-chats").click()
        time.sleep(0.5)
        self.assertEqual(b.d.find_elements(By.CSS_SELECTOR, "#chat-list button"), [], "bob sees no chat yet")

        # Page A (with the secret) adds bob to chat 1; bob then sees chat 1 only, and ann's message in it.
        a.type_into("#member-input", "bob", submit="#add-member")
        a.wait(lambda: "bob added" in a.el("#chat-meta").text, "bob added")

        def listed():
            b.el("#refresh-chats").click()
            time.sleep(0.3)
            return [e.get_attribute("data-chat") for e in b.d.find_elements(By.CSS_SELECTOR, "#chat-list button")]
        b.wait(lambda: listed() == ["1"], "bob's list: chat 1 only")
        b.el('#chat-list button[data-chat="1"]').click()
        b.wait(lambda: hello in b.bubbles().values(), "bob sees ann's message")
        theirs = b.el('#message-list li[data-number="1"]')
        self.assertNotIn("mine", theirs.get_attribute("class"))
        self.assertEqual(theirs.find_element(By.CSS_SELECTOR, ".sender").text, "ann")
        reply = "hi ann " + unique("w")
        b.type_into("#message-input", reply + Keys.ENTER)
        a.wait(lambda: reply in a.bubbles().values(), "ann sees bob's reply live")
        self.assertNotIn("mine", a.el('#message-list li[data-number="2"]').get_attribute("class"))
        # Chat 2 stays ann's: bob's page opening it gets the answer of a chat that does not exist.
        b.d.execute_script("location.hash = '#app=' + arguments[0] + '&chat=2';", token)
        b.wait(lambda: b.banner() and "chat not found" in b.banner(), "chat 2 looks absent to bob")
        for p in (a, b):
            severe = [e["message"] for e in p.d.get_log("browser") if e["level"] == "SEVERE"
                      and "401" not in e["message"] and "404" not in e["message"]]
            self.assertEqual(severe, [], p.state())
        if SCREENSHOT:
            a.d.save_screenshot(SCREENSHOT.replace(".png", "-restricted.png"))

    def test_deleted_edited_and_unread_messages(self):
        c = Client(api_a.port)
        _, app, _ = c.request("POST", "/api/v1/apps", {"name": unique("lifecycle")})
        token, secret = app["token"], app["secret"]
        base = f"/api/v1/apps/{token}"

        def as_(credential):
            return {"Authorization": f"Bearer {credential}"}

        def call(method, path, credential, body=None):
            return c.request(method, base + path, body, as_(credential))

        ann = call("POST", "/users/ann/tokens", secret, {"ttl": 3600})[1]["token"]
        bob = call("POST", "/users/bob/tokens", secret, {"ttl": 3600})[1]["token"]
        for _ in range(2):
            self.assertEqual(call("POST", "/chats", secret)[0], 201)
        # Chat 1: ann's message edited twice, ann's message to delete, bob's. Chat 2: three from bob.
        for chat, who, body in ((1, ann, "first version"), (1, ann, "delete me"), (1, bob, "from bob"),
                                (2, bob, "unread one"), (2, bob, "unread two"), (2, bob, "unread three")):
            self.assertEqual(call("POST", f"/chats/{chat}/messages", who, {"body": body})[0], 201)
        wait_until(lambda: sql(f"SELECT COUNT(*) FROM messages WHERE application_id = {app_id(token)}") == [["6"]],
                   timeout=WAIT_S, what="the messages stored")
        for body in ("second version", "third version"):
            self.assertEqual(call("PUT", "/chats/1/messages/1", ann, {"body": body})[0], 200)

        p = Page(self, api_a.port, "lifecycle")
        self.pages.append(p)
        p.d.execute_script("location.hash = '#app=' + arguments[0];", token)
        p.sign_in(secret, "ann")
        # ann has read what she sent: chat 1 holds one unread message for her (bob's), chat 2 three.
        p.wait(lambda: p.unread(1) == 1 and p.unread(2) == 3, "unread badges of both chats")

        # Viewing chat 1 marks it read up to its last message: the badge goes, the API agrees.
        p.el('#chat-list button[data-chat="1"]').click()
        p.wait(lambda: p.live() and len(p.bubbles()) == 3, "chat 1 open")
        p.wait(lambda: p.unread(1) is None, "chat 1's badge gone once viewed")
        self.assertEqual(p.el('#chat-list button[data-chat="1"]').get_attribute("data-unread"), "0")
        chat1 = call("GET", "/chats/1", ann)[1]
        self.assertEqual((chat1["last_read"], chat1["unread"]), (3, 0))
        self.assertEqual(p.unread(2), 3, "chat 2 not viewed yet")

        # The edited message says so, and shows its versions, oldest first.
        self.assertEqual(p.bubbles()[1], "third version")
        self.assertEqual(p.message(2).find_elements(By.CSS_SELECTOR, ".edited"), [])
        p.message(1).find_element(By.CSS_SELECTOR, ".meta button.edited").click()
        p.wait(lambda: p.message(1).find_elements(By.CSS_SELECTOR, ".versions li"), "the history shown")
        history = [li.text for li in p.message(1).find_elements(By.CSS_SELECTOR, ".versions li")]
        self.assertEqual([h.split(" ")[0] for h in history], ["v1", "v2", "v3"], history)
        for h, body in zip(history, ("first version", "second version", "third version")):
            self.assertTrue(h.endswith(body), history)

        # ann deletes its own message (no delete button on bob's): a tombstone in its place.
        self.assertEqual(p.message(3).find_elements(By.CSS_SELECTOR, "button.delete"), [])
        p.message(2).find_element(By.CSS_SELECTOR, "button.delete").click()
        WebDriverWait(p.d, 5).until(expected_conditions.alert_is_present()).accept()
        p.wait(lambda: p.bubbles()[2] == "message deleted", "the tombstone")
        self.assertIn("deleted", p.message(2).get_attribute("class"))
        self.assertEqual(p.message(2).find_elements(By.CSS_SELECTOR, ".meta button"), [])
        self.assertEqual(call("GET", "/chats/1/messages/2", ann)[0], 410)
        self.assertEqual(sorted(p.bubbles()), [1, 2, 3])

        # A reload (the page forgets the secret and the user): the tombstone is still there, from the
        # history, and the edit too; without a user no badge.
        p.d.execute_script("location.hash = '#app=' + arguments[0] + '&chat=1';", token)
        p.wait(lambda: p.live() and len(p.bubbles()) == 3, "chat 1 opened by the link")
        p.d.refresh()
        p.wait(lambda: p.live() and len(p.bubbles()) == 3, "chat 1 again after a reload")
        self.assertFalse(p.el("#signed-in").is_displayed(), "a reload forgets the user")
        self.assertEqual(p.bubbles(), {1: "third version", 2: "message deleted", 3: "from bob"})
        self.assertIn("deleted", p.message(2).get_attribute("class"))
        self.assertTrue(p.message(1).find_element(By.CSS_SELECTOR, ".edited").is_displayed())
        self.assertEqual((p.unread(1), p.unread(2)), (None, None))

        # Signed in again: chat 2 still has its three unread; viewing it drops the badge to 0, and a
        # message bob sends meanwhile is read too, as is the tombstone of one he deletes.
        p.sign_in(secret, "ann")
        p.el('#chat-list button[data-chat="1"]').click()
        p.wait(lambda: p.live() and len(p.bubbles()) == 3, "chat 1 open, signed in")
        p.message(1).find_element(By.CSS_SELECTOR, ".meta button.edited").click()
        p.wait(lambda: p.unread(2) == 3, "chat 2's badge")
        if SCREENSHOT:
            p.wait(lambda: p.message(1).find_elements(By.CSS_SELECTOR, ".versions li"), "the history shown")
            p.d.save_screenshot(SCREENSHOT.replace(".png", "-lifecycle.png"))
        p.el('#chat-list button[data-chat="2"]').click()
        p.wait(lambda: p.live() and len(p.bubbles()) == 3, "chat 2 open")
        p.wait(lambda: p.unread(2) is None, "chat 2's badge gone once viewed")
        self.assertEqual(p.el('#chat-list button[data-chat="2"]').get_attribute("data-unread"), "0")
        self.assertEqual(call("GET", "/chats/2", ann)[1]["unread"], 0)
        self.assertEqual(call("POST", "/chats/2/messages", bob, {"body": "one more"})[0], 201)
        p.wait(lambda: p.bubbles().get(4) == "one more", "bob's message live")
        wait_until(lambda: call("GET", "/chats/2", ann)[1]["last_read"] == 4, timeout=WAIT_S,
                   what="the live message marked read")
        self.assertEqual(call("DELETE", "/chats/2/messages/3", bob)[0], 204)
        p.wait(lambda: p.bubbles().get(3) == "message deleted", "bob's deletion live")
        self.assertIn("deleted", p.message(3).get_attribute("class"))
        # bob has read what he sent: "seen by bob" under his last message; then, reading what the
        # application sent, under that one.
        p.wait(lambda: p.message(4).find_elements(By.CSS_SELECTOR, ".seen"), "seen by bob (his own)")
        self.assertEqual(p.message(4).find_element(By.CSS_SELECTOR, ".seen").text, "seen by bob")
        self.assertEqual(call("POST", "/chats/2/messages", secret, {"body": "from the app"})[0], 201)
        p.wait(lambda: p.bubbles().get(5) == "from the app", "the application's message live")
        self.assertEqual(call("PUT", "/chats/2/read", bob, {"number": 5})[0], 200)
        p.wait(lambda: p.message(5).find_elements(By.CSS_SELECTOR, ".seen"), "seen by bob (read.updated)")
        self.assertEqual(p.message(4).find_elements(By.CSS_SELECTOR, ".seen"), [])

        # The application deletes chat 2: the page shows it deleted and stops listening.
        self.assertEqual(call("DELETE", "/chats/2", secret)[0], 204)
        p.wait(lambda: p.el("#live-text").text == "chat deleted", "the chat's deletion live")
        self.assertIn("deleted", p.el('#chat-list button[data-chat="2"]').get_attribute("class"))
        self.assertTrue(p.el("#message-input").get_attribute("disabled"))
        self.assertEqual(p.severe(), [], p.state())

    def test_the_page_resumes_after_its_server_restarts(self):
        # A server of its own, killed and started again on the same port while the page stays open.
        own = start_api(CHAT_RATE_LIMIT_RPS=0)
        c = Client(api_a.port)
        _, app, _ = c.request("POST", "/api/v1/apps", {"name": unique("resume")})
        token = app["token"]
        c.request("POST", f"/api/v1/apps/{token}/chats")
        for i in range(3):
            c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": f"before {i}"})
        try:
            p = Page(self, own.port, "resume")
            self.pages.append(p)
            # A link to the chat opens it.
            p.d.execute_script("location.hash = '#app=' + arguments[0] + '&chat=1';", token)
            p.wait(lambda: p.live() and len(p.bubbles()) == 3, "the chat's messages")
            own.kill()
            p.wait(lambda: p.el("#live").get_attribute("data-state") == "reconnecting", "reconnecting shown")
            for i in range(3):
                c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": f"while down {i}"})
            own = start_api(port=own.port, CHAT_RATE_LIMIT_RPS=0)
            # The browser reconnects with Last-Event-ID by itself: what was sent meanwhile, then live.
            p.wait(lambda: p.live() and len(p.bubbles()) == 6, "the messages sent while it was down")
            c.request("POST", f"/api/v1/apps/{token}/chats/1/messages", {"body": "after"})
            p.wait(lambda: len(p.bubbles()) == 7, "live again")
            self.assertEqual(p.bubbles(), {1: "before 0", 2: "before 1", 3: "before 2", 4: "while down 0",
                                           5: "while down 1", 6: "while down 2", 7: "after"})
        finally:
            own.stop()


if __name__ == "__main__":
    unittest.main()
