// The demo client (GET /demo/app.js): an application, its chats, one chat's messages live over the
// SSE stream, sending, editing (with its history), deleting (a tombstone stays in place), unread
// counts and read markers, and search, all through the public HTTP API of the server that served
// the page. No framework, no build step. Everything a server or a user wrote is put into the page as
// text (textContent), never as HTML.
//
// Access: the page may hold the application's secret (from creating it, or pasted), in memory only
// (never in localStorage or the address): with it, it plays the customer's server (restricts the
// application, adds members, mints user tokens). Signed in as a user, every request carries that
// user's token instead, and the page shows what that user may see.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const API = "/api/v1";
  const HISTORY_PAGE = 50;
  const SEARCH_PAGE = 20;

  // What is open. `messages` holds the open chat's messages as last shown (by number), `byNumber`
  // their elements. `mine` holds the numbers this page sent without a user (an open application's
  // messages have no sender); signed in, a message is mine when its sender is the user. `readUpTo` is
  // the user's read marker in the open chat, `readBy` every user's ("seen by"). `live` is the current
  // EventSource; `liveGen` tells the handlers of a replaced one that they are stale.
  const state = {
    token: null,
    appName: "",
    access: "open",
    secret: null,     // the application's secret: memory only
    user: null,       // the user signed in, and its token
    userToken: null,
    chat: null,
    created: [],
    messages: new Map(),
    byNumber: new Map(),
    oldest: null,
    mine: new Set(),
    readUpTo: 0,
    readTimer: null,
    readBy: new Map(),
    live: null,
    liveGen: 0,
    retryMs: 1000,
    retryTimer: null,
    search: { q: "", sort: "relevance", cursor: null },
  };

  // --- the API --------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // One request; resolves to the parsed JSON body, rejects with an ApiError carrying the API's
  // {"error": {"code", "message"}} (or what the network said).
  // The credential of the page's requests: the user's token when signed in, else the secret, if any.
  const credential = () => state.userToken || state.secret;

  async function api(method, path, body, headers = {}) {
    const init = { method, headers: { Accept: "application/json", ...headers } };
    if (!init.headers.Authorization && credential()) init.headers.Authorization = "Bearer " + credential();
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(API + path, init);
    } catch (e) {
      throw new ApiError(0, "network", "the server did not answer (" + e.message + ")");
    }
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      const err = data && data.error;
      throw new ApiError(res.status, err ? err.code : "http_" + res.status,
                         err ? err.message : res.statusText || "request failed");
    }
    return data;
  }

  // An Idempotency-Key: visible ASCII, unique per logical request (a retry reuses it).
  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "demo-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const enc = encodeURIComponent;
  const appPath = () => `/apps/${enc(state.token)}`;
  const chatPath = () => `${appPath()}/chats/${state.chat}`;

  // --- small view helpers ---------------------------------------------------------------------

  let bannerTimer = null;
  function showError(err) {
    const text = err instanceof ApiError
      ? `${err.message} (${err.code}${err.status ? ", HTTP " + err.status : ""})`
      : String(err && err.message ? err.message : err);
    $("banner-text").textContent = text;
    $("banner").hidden = false;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(() => { $("banner").hidden = true; }, 12000);
  }
  function clearError() {
    $("banner").hidden = true;
  }

  function setLive(kind, text) {
    $("live").dataset.state = kind;
    $("live-text").textContent = text;
  }

  function timeOf(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    const today = new Date();
    const opts = { hour: "2-digit", minute: "2-digit", second: "2-digit" };
    if (d.toDateString() !== today.toDateString()) Object.assign(opts, { month: "short", day: "numeric" });
    return d.toLocaleString([], opts);
  }

  function el(tag, props = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) if (c) e.append(c);
    return e;
  }

  // Keeps the user's place: follows new messages only when the view was already at the bottom.
  function nearBottom() {
    const box = $("messages");
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }
  function scrollToBottom() {
    const box = $("messages");
    box.scrollTop = box.scrollHeight;
  }

  function remember() {
    try {
      localStorage.setItem("chat-demo", JSON.stringify({ token: state.token, chat: state.chat }));
    } catch (e) { /* private mode: nothing to remember */ }
  }

  // --- the application ------------------------------------------------------------------------

  async function openApp(token, chat) {
    token = token.trim();
    if (!token) return;
    if (state.token !== token) forgetCredentials();
    let app;
    try {
      app = await api("GET", `/apps/${enc(token)}`);
    } catch (e) {
      if (e.status !== 401) throw e;
      // A restricted application: the page needs its secret (or a user token minted with it).
      state.token = token;
      app = { token, name: "(restricted)", access: "restricted" };
      showApp(app);
      $("chats-panel").hidden = true;
      throw e;
    }
    closeChat();
    if (state.token !== app.token) state.created = [];
    showApp(app);
    clearError();
    remember();
    await loadChats();
    // The application stays open when its chat cannot be (the error says why).
    if (chat && state.token === app.token) await openChat(chat).catch(showError);
  }

  function showApp(app) {
    state.token = app.token;
    state.appName = app.name;
    state.access = app.access || "open";
    $("app-name").textContent = app.name;
    $("app-token").textContent = app.token;
    $("app-badge").hidden = false;
    $("app-panel").hidden = true;
    $("chats-panel").hidden = false;
    $("access-panel").hidden = false;
    showAccess();
  }

  function forgetCredentials() {
    state.secret = null;
    state.user = null;
    state.userToken = null;
  }

  // The access panel: the mode, whether the page holds the secret, who is signed in.
  function showAccess() {
    const restricted = state.access === "restricted";
    $("access-mode").textContent = restricted
      ? "restricted: every request needs the secret or a user token"
      : "open: no credential needed";
    $("secret-form").hidden = Boolean(state.secret);
    $("secret-held").hidden = !state.secret;
    $("toggle-access").hidden = !state.secret;
    $("toggle-access").textContent = restricted ? "Make open" : "Make restricted";
    $("signin-form").hidden = !state.secret || Boolean(state.user);
    $("signed-in").hidden = !state.user;
    $("signed-in-user").textContent = state.user || "";
    $("member-form").hidden = !state.secret || state.chat === null;
  }

  // Calls as the customer's server: with the secret, whoever is signed in.
  const asServer = () => ({ Authorization: "Bearer " + state.secret });

  async function useSecret(secret) {
    secret = secret.trim();
    if (!secret) return;
    const app = await api("GET", appPath(), undefined, { Authorization: "Bearer " + secret });
    state.secret = secret;
    $("secret-input").value = "";
    closeChat();
    showApp(app);
    await loadChats();
  }

  async function toggleAccess() {
    const app = await api("PUT", appPath(), { access: state.access === "restricted" ? "open" : "restricted" },
                          asServer());
    state.access = app.access;
    showAccess();
  }

  // A user's token, minted by the server with the secret (a customer's server may use any JWT library).
  async function signIn(user) {
    user = user.trim();
    if (!user) return;
    const r = await api("POST", `${appPath()}/users/${enc(user)}/tokens`, { ttl: 3600 }, asServer());
    state.user = user;
    state.userToken = r.token;
    $("user-input").value = "";
    state.created = [];
    closeChat();
    showAccess();
    await loadChats();
  }

  async function signOut() {
    state.user = null;
    state.userToken = null;
    state.created = [];
    closeChat();
    showAccess();
    await loadChats();
  }

  async function addMember(user) {
    user = user.trim();
    if (!user || state.chat === null) return;
    await api("PUT", `${chatPath()}/members/${enc(user)}`, undefined, asServer());
    $("member-input").value = "";
    $("chat-meta").textContent = `${state.appName} · ${user} added`;
  }

  function leaveApp() {
    closeChat();
    state.token = null;
    forgetCredentials();
    $("app-badge").hidden = true;
    $("app-panel").hidden = false;
    $("chats-panel").hidden = true;
    $("access-panel").hidden = true;
    $("secret-once").hidden = true;
    $("secret-value").textContent = "";
    $("chat-list").replaceChildren();
    remember();
    $("token-input").focus();
  }

  async function createApp(name) {
    const app = await api("POST", "/apps", { name });
    $("app-name-input").value = "";
    await openApp(app.token);
    // Shown once by the API, kept in this page's memory only, and shown to the person this once.
    state.secret = app.secret;
    $("secret-value").textContent = app.secret;
    $("secret-once").hidden = false;
    showAccess();
  }

  // --- chats ----------------------------------------------------------------------------------

  async function loadChats() {
    const token = state.token;
    const chats = [];
    let after = 0;
    for (let page = 0; page < 10 && after !== null; ++page) {
      const r = await api("GET", `/apps/${enc(token)}/chats?limit=100&after=${after}`);
      chats.push(...r.chats);
      after = r.next_after;
    }
    if (token !== state.token) return;
    // The list is read from storage: a chat this page just created is listed before the worker
    // stored it.
    for (const c of state.created) {
      if (!chats.some((k) => k.number === c.number)) chats.push(c);
    }
    chats.sort((x, y) => x.number - y.number);
    const list = $("chat-list");
    list.replaceChildren(...chats.map((c) => el("li", {},
      el("button", { type: "button", "data-chat": String(c.number), onclick: () => openChat(c.number).catch(showError) },
        el("span", {}, el("span", { text: `Chat #${c.number}` }), el("span", { class: "unread", hidden: true })),
        el("span", { class: "when", text: timeOf(c.created_at) })))));
    for (const c of chats) showUnread(c.number, c.unread);
    $("chats-empty").hidden = chats.length > 0;
    markCurrentChat();
  }

  const chatButton = (chat) => $("chat-list").querySelector(`button[data-chat="${chat}"]`);

  // A chat's unread badge. Only a user has a read marker: with a user token the API counts the
  // messages above it (deleted ones not counted); otherwise `unread` is absent and so is the badge.
  function showUnread(chat, unread) {
    const b = chatButton(chat);
    if (!b || typeof unread !== "number") return;
    b.dataset.unread = String(unread);
    const badge = b.querySelector(".unread");
    badge.textContent = String(unread);
    badge.hidden = unread === 0;
  }

  // After chat.deleted: listed as deleted, and if open, shown so (its stream has ended).
  function showChatDeleted(chat, at) {
    state.created = state.created.filter((c) => c.number !== chat);
    const b = chatButton(chat);
    if (b) {
      b.classList.add("deleted");
      b.querySelector(".when").textContent = "deleted";
      showUnread(chat, 0);
    }
    if (state.chat !== chat) return;
    setLive("failed", "chat deleted");
    $("chat-view").classList.add("deleted");
    $("chat-meta").textContent = `${state.appName} · deleted ${timeOf(at)}`;
    $("message-input").disabled = true;
    $("send").disabled = true;
  }

  function markCurrentChat() {
    for (const b of $("chat-list").querySelectorAll("button")) {
      b.setAttribute("aria-current", String(Number(b.dataset.chat) === state.chat));
    }
  }

  async function createChat() {
    const r = await api("POST", `${appPath()}/chats`, undefined, { "Idempotency-Key": newKey() });
    state.created.push({ number: r.chat_number, created_at: r.created_at });
    await loadChats();
    await openChat(r.chat_number);
  }

  function closeChat() {
    closeLive();
    clearTimeout(state.readTimer);
    state.readTimer = null;
    state.chat = null;
    state.messages.clear();
    state.byNumber.clear();
    state.oldest = null;
    state.mine.clear();
    state.readUpTo = 0;
    state.readBy.clear();
    $("chat-view").classList.remove("deleted");
    $("message-input").disabled = false;
    $("send").disabled = false;
    $("message-list").replaceChildren();
    $("search-results").replaceChildren();
    $("search-more").hidden = true;
    $("chat-view").hidden = true;
    $("search-panel").hidden = true;
    $("placeholder").hidden = false;
    $("member-form").hidden = true;
    setLive("idle", "not connected");
  }

  async function openChat(number) {
    number = Number(number);
    const token = state.token;
    const chat = await api("GET", `/apps/${enc(token)}/chats/${number}`);  // 404 for an unknown chat, shown as such
    closeChat();
    state.chat = number;
    state.readUpTo = chat.last_read || 0;
    showUnread(number, chat.unread);
    markCurrentChat();
    remember();
    $("chat-title").textContent = `Chat #${number}`;
    $("chat-meta").textContent = state.appName;
    $("placeholder").hidden = true;
    $("chat-view").hidden = false;
    $("search-panel").hidden = false;
    $("search-status").textContent = "Finds stored messages, usually a second after they are sent.";
    showAccess();
    // The newest stored page first, then the stream from just below it: the stream replays that page
    // again (shown once: messages are keyed by number) and every message above it, stored or not
    // yet, so nothing between the page and live delivery is missed.
    const [r, seen] = await Promise.all([
      api("GET", `${chatPath()}/messages?before=latest&limit=${HISTORY_PAGE}`),
      api("GET", `${chatPath()}/read`),
    ]);
    if (state.chat !== number || state.token !== token) return;
    for (const k of seen.markers) state.readBy.set(k.user, k.last_read);
    for (const m of r.messages) upsert(m, false);
    state.oldest = r.messages.length ? r.messages[0].number : null;
    $("load-older").hidden = !r.next_before;
    updateEmpty();
    scrollToBottom();
    connectLive(r.messages.length ? r.messages[0].number - 1 : 0);
    $("message-input").focus();
  }

  async function loadOlder() {
    if (state.oldest === null || state.oldest <= 1) return false;
    const box = $("messages");
    const before = box.scrollHeight;
    const r = await api("GET", `${chatPath()}/messages?before=${state.oldest}&limit=${HISTORY_PAGE}`);
    for (const m of r.messages) upsert(m, false);
    if (r.messages.length) state.oldest = r.messages[0].number;
    $("load-older").hidden = !r.next_before;
    box.scrollTop += box.scrollHeight - before;  // the messages in view stay where they were
    return r.messages.length > 0 && Boolean(r.next_before);
  }

  // --- messages -------------------------------------------------------------------------------

  function updateEmpty() {
    $("messages-empty").hidden = state.byNumber.size > 0;
  }

  // Shows a message, or updates the one with its number in place (an edit, a deletion, or the
  // stream's copy of a message this page already showed). Messages stay in number order. `m` may be
  // partial: it is laid over what is shown. A deleted message stays as a tombstone (body null,
  // deleted_at set) and never turns back; an older version never replaces a newer one.
  function upsert(m, fresh, flash = false) {
    const prev = state.messages.get(m.number);
    if (prev && !m.deleted_at && (prev.deleted_at || m.version < prev.version)) return;
    m = { ...prev, ...m };
    state.messages.set(m.number, m);
    let item = state.byNumber.get(m.number);
    const follow = nearBottom();
    if (!item) {
      item = el("li", { class: "message", "data-number": String(m.number) },
        el("div", { class: "bubble" }),
        el("div", { class: "meta" }));
      state.byNumber.set(m.number, item);
      const list = $("message-list");
      let next = null;
      for (let c = list.lastElementChild; c; c = c.previousElementSibling) {
        if (Number(c.dataset.number) > m.number) next = c;
        else break;
      }
      list.insertBefore(item, next);
      if (fresh) item.classList.add("fresh");
    }
    const gone = Boolean(m.deleted_at);
    item.classList.toggle("mine", isMine(m));
    item.classList.toggle("deleted", gone);
    const bubble = item.querySelector(".bubble");
    // The history shown is stale after an edit and erased with a deletion; so is an edit begun.
    if (prev && (gone || m.version !== prev.version)) item.querySelector(".versions")?.remove();
    if (gone) {
      item.querySelector(".edit-form")?.remove();
      bubble.hidden = false;
      bubble.textContent = "message deleted";
    } else if (!item.querySelector(".edit-form")) {
      bubble.textContent = m.body;
    }
    // A user changes only its own messages (the API answers 403 otherwise): no buttons on the others'.
    const mayChange = !gone && (!state.user || m.sender === state.user);
    const meta = item.querySelector(".meta");
    meta.replaceChildren(...[
      m.sender ? el("span", { class: "sender", text: m.sender }) : null,
      el("span", { class: "num", text: `#${m.number}` }),
      el("span", { text: timeOf(m.created_at) }),
      !gone && m.edited_at
        ? el("button", { type: "button", class: "link edited", text: "edited", title: "Show the earlier versions",
                         onclick: () => toggleVersions(m.number).catch(showError) })
        : null,
      mayChange ? el("button", { type: "button", class: "link edit", text: "edit", onclick: () => startEdit(m.number) }) : null,
      mayChange
        ? el("button", { type: "button", class: "link delete", text: "delete",
                         onclick: () => deleteMessage(m.number).catch(showError) })
        : null,
    ].filter(Boolean));
    if (flash) {
      item.classList.remove("flash");
      void item.offsetWidth;  // restart the animation
      item.classList.add("flash");
    }
    updateEmpty();
    if (!prev) {
      showSeen();
      scheduleRead();
    }
    if (fresh && (follow || isMine(m))) scrollToBottom();
  }

  // Signed in: the user's messages (the server set their sender). Otherwise: what this page sent.
  function isMine(m) {
    if (state.user) return m.sender === state.user;
    return state.mine.has(m.number);
  }

  async function send(text) {
    const key = newKey();
    const chat = state.chat;
    let r;
    try {
      r = await api("POST", `${chatPath()}/messages`, { body: text }, { "Idempotency-Key": key });
    } catch (e) {
      if (e.code !== "network") throw e;
      // The request may or may not have arrived: the same key makes the retry safe.
      await new Promise((ok) => setTimeout(ok, 500));
      r = await api("POST", `${chatPath()}/messages`, { body: text }, { "Idempotency-Key": key });
    }
    if (state.chat !== chat) return;
    state.mine.add(r.number);
    upsert({ number: r.number, body: r.body, sender: r.sender, created_at: r.created_at, updated_at: r.created_at,
             version: 1, edited_at: null, deleted_at: null }, true);
  }

  function startEdit(number) {
    const item = state.byNumber.get(number);
    if (!item || item.querySelector(".edit-form")) return;
    const bubble = item.querySelector(".bubble");
    const input = el("textarea", { rows: 2, value: state.messages.get(number).body });
    const form = el("form", { class: "edit-form" }, input,
      el("button", { type: "submit", text: "Save" }),
      el("button", { type: "button", class: "link", text: "cancel", onclick: () => done() }));
    const done = () => {
      form.remove();
      bubble.hidden = false;
      const m = state.messages.get(number);
      if (m && !m.deleted_at) bubble.textContent = m.body;
    };
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      try {
        const m = await api("PUT", `${chatPath()}/messages/${number}`, { body: input.value });
        done();
        upsert(m, false, true);
      } catch (e) {
        // 409 until the worker stored the message: a new message can be edited a moment later.
        showError(e);
      }
    };
    bubble.hidden = true;
    item.insertBefore(form, bubble);
    input.focus();
  }

  // A deletion erases the body for everyone (204 once queued): the tombstone shows at once, the
  // stream's message.deleted then confirms it here and on every other page.
  async function deleteMessage(number) {
    if (!confirm(`Delete message #${number}? Its text is erased for everyone.`)) return;
    const chat = state.chat;
    await api("DELETE", `${chatPath()}/messages/${number}`);
    if (state.chat === chat) upsert({ number, body: null, deleted_at: new Date().toISOString() }, false);
  }

  // The message's bodies, oldest first (GET …/versions), under it; a second click hides them.
  async function toggleVersions(number) {
    const item = state.byNumber.get(number);
    const shown = item && item.querySelector(".versions");
    if (!item || shown) {
      shown?.remove();
      return;
    }
    const chat = state.chat;
    const r = await api("GET", `${chatPath()}/messages/${number}/versions`);
    if (state.chat !== chat || item.querySelector(".versions") || state.messages.get(number).deleted_at) return;
    item.querySelector(".meta").after(el("ol", { class: "versions" }, ...r.versions.map((v) =>
      el("li", {}, el("span", { class: "v", text: `v${v.version} · ${timeOf(v.at)}` }), el("span", { text: v.body })))));
  }

  // Signed in, the page marks the open chat read up to the last message it shows (PUT …/read), a
  // moment after that changed and only while the page is visible; the answer's count is the badge's.
  function scheduleRead() {
    if (!state.user || state.readTimer) return;
    state.readTimer = setTimeout(() => {
      state.readTimer = null;
      markRead().catch(showError);
    }, 300);
  }
  async function markRead() {
    const chat = state.chat;
    if (!state.user || chat === null || document.hidden) return;
    const last = Math.max(0, ...state.byNumber.keys());
    if (last <= state.readUpTo) return;
    const r = await api("PUT", `${chatPath()}/read`, { number: last });
    if (state.chat === chat) state.readUpTo = Math.max(state.readUpTo, r.last_read);
    showUnread(chat, r.unread);
  }

  // "seen by": each other user's read marker, under the last message shown at or below it.
  function showSeen() {
    for (const e of $("message-list").querySelectorAll(".seen")) e.remove();
    const at = new Map();
    for (const [user, n] of state.readBy) {
      if (user === state.user || n === 0) continue;
      let best = 0;
      for (const k of state.byNumber.keys()) if (k <= n && k > best) best = k;
      if (best) at.set(best, [...(at.get(best) || []), user]);
    }
    for (const [n, users] of at) {
      state.byNumber.get(n).append(el("div", { class: "seen", text: "seen by " + users.join(", ") }));
    }
  }

  // --- live delivery (server-sent events) -----------------------------------------------------

  function closeLive() {
    clearTimeout(state.retryTimer);
    state.retryTimer = null;
    state.liveGen++;
    if (state.live) state.live.close();
    state.live = null;
  }

  // The chat's stream from just above `after`. The browser reconnects by itself with Last-Event-ID
  // (the number of the last message slot it got: a creation, or the tombstone of a message deleted
  // before the page saw it), so a dropped connection misses nothing; only when it gives up (an HTTP
  // error) does the page retry, after a growing pause. chat.deleted ends the stream for good.
  function connectLive(after) {
    closeLive();
    const gen = state.liveGen;
    const chat = state.chat;
    // A browser cannot set headers on an EventSource: the credential rides as ?access_token=.
    const cred = credential();
    const es = new EventSource(`${API}${chatPath()}/stream?after=${after}` + (cred ? `&access_token=${enc(cred)}` : ""));
    state.live = es;
    let last = after;
    setLive("connecting", "connecting…");
    es.onopen = () => {
      if (gen !== state.liveGen) return;
      state.retryMs = 1000;
      setLive("live", `live · chat #${chat}`);
    };
    es.addEventListener("message.created", (ev) => {
      if (gen !== state.liveGen) return;
      const m = JSON.parse(ev.data);
      last = Math.max(last, m.number);
      upsert(m, true);
      // Its sender has read it (the server sends no read.updated for that).
      if (m.sender && m.number > (state.readBy.get(m.sender) || 0)) {
        state.readBy.set(m.sender, m.number);
        showSeen();
      }
    });
    es.addEventListener("message.updated", (ev) => {
      if (gen !== state.liveGen) return;
      upsert(JSON.parse(ev.data), false, true);
    });
    es.addEventListener("message.deleted", (ev) => {
      if (gen !== state.liveGen) return;
      const m = JSON.parse(ev.data);
      last = Math.max(last, m.number);
      upsert(m, !state.byNumber.has(m.number));
    });
    es.addEventListener("read.updated", (ev) => {
      if (gen !== state.liveGen) return;
      const r = JSON.parse(ev.data);
      state.readBy.set(r.user, r.last_read);
      if (r.user === state.user) state.readUpTo = Math.max(state.readUpTo, r.last_read);
      showSeen();
    });
    es.addEventListener("chat.deleted", (ev) => {
      if (gen !== state.liveGen) return;
      closeLive();  // a reconnection would only find the chat gone
      showChatDeleted(chat, JSON.parse(ev.data).deleted_at);
    });
    es.addEventListener("error", (ev) => {
      if (gen !== state.liveGen) return;
      if (ev.data) {
        // The server's own error event before it ends the stream (a slow reader, a restart).
        let why = "the server closed the stream";
        try { why = JSON.parse(ev.data).error.code.replace(/_/g, " "); } catch (e) { /* keep */ }
        setLive("reconnecting", `reconnecting (${why})…`);
        return;
      }
      if (es.readyState === EventSource.CONNECTING) {
        setLive("reconnecting", "reconnecting…");
        return;
      }
      // Closed for good: an HTTP error. Ask the API why (its JSON error), then try again later.
      setLive("failed", "disconnected");
      api("GET", chatPath()).then(
        () => {},
        (e) => { if (gen === state.liveGen) showError(e); });
      const wait = state.retryMs;
      state.retryMs = Math.min(state.retryMs * 2, 15000);
      state.retryTimer = setTimeout(() => {
        if (gen === state.liveGen) connectLive(last);
      }, wait);
      setLive("failed", `disconnected · retrying in ${Math.round(wait / 1000)} s`);
    });
  }

  // --- search ---------------------------------------------------------------------------------

  // The API's highlight is HTML-escaped text with <em> around matches; it is rebuilt here from text
  // nodes rather than trusted as markup.
  function decodeEntities(s) {
    return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (all, e) => {
      const named = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[e.toLowerCase()];
      if (named) return named;
      const code = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : all;
    });
  }
  function highlighted(html) {
    const out = document.createDocumentFragment();
    let inside = false;
    for (const part of html.split(/(<em>|<\/em>)/)) {
      if (part === "<em>") inside = true;
      else if (part === "</em>") inside = false;
      else if (part) out.append(inside ? el("em", { text: decodeEntities(part) }) : decodeEntities(part));
    }
    return out;
  }

  async function search(more) {
    const s = state.search;
    if (!more) {
      s.q = $("search-input").value.trim();
      s.sort = $("search-sort").value;
      s.cursor = null;
      $("search-results").replaceChildren();
      $("search-more").hidden = true;
      if (!s.q) return;
    }
    $("search-status").textContent = "Searching…";
    let q = `q=${enc(s.q)}&limit=${SEARCH_PAGE}&sort=${enc(s.sort)}`;
    if (s.cursor) q += `&cursor=${enc(s.cursor)}`;
    let r;
    try {
      r = await api("GET", `${chatPath()}/messages/search?${q}`);
    } catch (e) {
      $("search-status").textContent = "Search failed.";
      throw e;
    }
    const list = $("search-results");
    for (const h of r.hits) {
      list.append(el("li", { "data-number": String(h.number) },
        el("button", { type: "button", onclick: () => jumpTo(h.number).catch(showError) },
          el("span", { class: "num", text: `#${h.number}` }),
          el("span", { class: "snippet" }, highlighted(h.highlight || h.body)))));
    }
    s.cursor = r.next_cursor;
    $("search-more").hidden = !r.next_cursor;
    $("search-status").textContent = r.total === 0
      ? `Nothing found for “${s.q}”.`
      : `${r.total} message${r.total === 1 ? "" : "s"} match “${s.q}”.`;
  }

  // Scrolls to a message of the chat, loading older pages until it is there.
  async function jumpTo(number) {
    for (let i = 0; i < 40 && !state.byNumber.has(number); ++i) {
      if (!(await loadOlder())) break;
    }
    const item = state.byNumber.get(number);
    if (!item) return;
    item.scrollIntoView({ block: "center", behavior: "smooth" });
    item.classList.remove("flash");
    void item.offsetWidth;
    item.classList.add("flash");
  }

  // --- wiring ---------------------------------------------------------------------------------

  function busy(button, work) {
    return async (...args) => {
      button.disabled = true;
      try {
        await work(...args);
      } catch (e) {
        showError(e);
      } finally {
        button.disabled = false;
      }
    };
  }

  function init() {
    $("create-app-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy($("create-app"), () => createApp($("app-name-input").value || "demo"))();
    });
    $("open-app-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy($("open-app"), () => openApp($("token-input").value))();
    });
    $("leave-app").addEventListener("click", leaveApp);
    $("secret-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy($("use-secret"), () => useSecret($("secret-input").value))();
    });
    $("toggle-access").addEventListener("click", busy($("toggle-access"), toggleAccess));
    $("signin-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy($("sign-in"), () => signIn($("user-input").value))();
    });
    $("sign-out").addEventListener("click", () => signOut().catch(showError));
    $("member-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy($("add-member"), () => addMember($("member-input").value))();
    });
    $("copy-token").addEventListener("click", () => {
      if (navigator.clipboard) navigator.clipboard.writeText(state.token).catch(() => {});
    });
    $("new-chat").addEventListener("click", busy($("new-chat"), createChat));
    $("refresh-chats").addEventListener("click", () => loadChats().catch(showError));
    $("load-older").addEventListener("click", () => loadOlder().catch(showError));
    $("banner-close").addEventListener("click", clearError);
    // A hidden page marks nothing read; shown again, it marks what it shows.
    document.addEventListener("visibilitychange", () => markRead().catch(showError));

    const input = $("message-input");
    const submit = busy($("send"), async () => {
      const text = input.value;
      if (!text.trim()) return;
      await send(text);
      input.value = "";
      input.focus();
    });
    $("composer").addEventListener("submit", (ev) => { ev.preventDefault(); submit(); });
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        submit();
      }
    });

    $("search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy($("search-go"), () => search(false))();
    });
    $("search-more").addEventListener("click", () => search(true).catch(showError));

    // A link such as /demo#app=TOKEN&chat=N opens that chat, also when followed from this page.
    window.addEventListener("hashchange", () => {
      const h = new URLSearchParams(location.hash.slice(1));
      if (h.get("app")) openApp(h.get("app"), h.get("chat") ? Number(h.get("chat")) : null).catch(showError);
    });
    // Where to start: #app=TOKEN&chat=N in the address, else what this browser had open last.
    const hash = new URLSearchParams(location.hash.slice(1));
    let saved = {};
    try { saved = JSON.parse(localStorage.getItem("chat-demo") || "{}") || {}; } catch (e) { saved = {}; }
    const token = hash.get("app") || saved.token;
    const chat = hash.get("app") ? hash.get("chat") : saved.chat;
    if (token) {
      $("token-input").value = token;
      // A restricted application stays open, waiting for its secret; any other failure leaves it.
      openApp(token, chat ? Number(chat) : null).catch((e) => { if (e.status !== 401) leaveApp(); showError(e); });
    } else {
      $("app-name-input").focus();
    }
  }

  init();
})();
