#include "api/access_control.hpp"

#include <algorithm>

#include "core/time.hpp"

namespace chat::api {

namespace asio = boost::asio;
using core::errc;
using core::make_error;

namespace {
// Bounds on what a server caches: cleared whole past it (a cache, never the truth).
constexpr std::size_t max_entries = 100000;
// Verified tokens are larger (a JWT each): fewer.
constexpr std::size_t max_tokens = 20000;
}  // namespace

access_control::access_control(access_stores& stores, std::function<std::int64_t()> wall_ms)
    : stores_(stores), wall_ms_(wall_ms ? std::move(wall_ms) : std::function<std::int64_t()>(core::now_ms)) {}

task<std::shared_ptr<const domain::app_access>> access_control::app_of(const std::string& token) {
    std::shared_ptr<const domain::app_access> stale;
    auto now = clock::now();
    {
        std::lock_guard lock(mu_);
        if (auto it = apps_.find(token); it != apps_.end()) {
            if (now - it->second.read_at < fresh_for) co_return it->second.value;
            stale = it->second.value;
        }
    }
    auto loaded = co_await stores_.load_app(token);
    if (!loaded) {
        if (stale && loaded.error().code == errc::unavailable) co_return stale;
        co_return loaded.error();
    }
    if (!*loaded) co_return make_error(errc::not_found, "application not found");
    auto app = std::make_shared<const domain::app_access>(std::move(**loaded));
    std::lock_guard lock(mu_);
    if (apps_.size() >= max_entries) apps_.clear();
    apps_[token] = {app, now};
    co_return app;
}

task<std::int64_t> access_control::revocation_of(std::uint64_t app_id, const std::string& user) {
    user_key key{app_id, user};
    auto now = clock::now();
    std::optional<std::int64_t> stale;
    {
        std::lock_guard lock(mu_);
        if (auto it = revocations_.find(key); it != revocations_.end()) {
            if (now - it->second.read_at < fresh_for) co_return it->second.value;
            stale = it->second.value;
        }
    }
    auto loaded = co_await stores_.load_revocation(app_id, user);
    if (!loaded) {
        // A revocation is written to MariaDB first: while it cannot answer, none can have been made.
        if (stale && loaded.error().code == errc::unavailable) co_return *stale;
        co_return loaded.error();
    }
    std::lock_guard lock(mu_);
    if (revocations_.size() >= max_entries) revocations_.clear();
    revocations_[key] = {*loaded, now};
    co_return *loaded;
}

task<bool> access_control::is_member(const domain::app_access& app, std::uint64_t chat,
                                     const std::string& user) {
    member_key key{app.app_id, chat, user};
    auto now = clock::now();
    std::optional<bool> stale;
    {
        std::lock_guard lock(mu_);
        if (auto it = members_.find(key); it != members_.end()) {
            if (now - it->second.read_at < fresh_for) co_return it->second.value;
            stale = it->second.value;
        }
    }
    auto loaded = co_await stores_.load_membership(app, chat, user);
    if (!loaded) {
        if (stale && loaded.error().code == errc::unavailable) co_return *stale;
        co_return loaded.error();
    }
    // "Not a member of a chat that does not exist" would outlive the chat's creation by its creator.
    if (loaded->member || loaded->chat_known) {
        std::lock_guard lock(mu_);
        if (members_.size() >= max_entries) members_.clear();
        members_[key] = {loaded->member, now};
    }
    co_return loaded->member;
}

core::result<domain::verified_token> access_control::verified(const domain::app_access& app,
                                                              const std::string& jwt) {
    // Keyed by the application and the whole token: a token verified for one application proves
    // nothing for another, and a key is never a hash that two tokens could share.
    std::string key = app.token;
    key.push_back('\0');
    key += jwt;
    {
        std::lock_guard lock(mu_);
        if (auto it = tokens_.find(key); it != tokens_.end()) {
            // Only while the secret that signed it is still one of the application's.
            bool signer_kept = std::any_of(app.secrets.begin(), app.secrets.end(),
                                           [&](const auto& s) { return s.id == it->second.secret_id; });
            if (signer_kept) return it->second;
            tokens_.erase(it);
        }
    }
    auto checked = domain::verify_user_token(app, jwt);
    if (!checked) return checked;
    std::lock_guard lock(mu_);
    if (tokens_.size() >= max_tokens) tokens_.clear();
    tokens_.emplace(std::move(key), *checked);
    return checked;
}

task<caller> access_control::authenticate(const std::string& token, const std::string& credential) {
    auto app = co_await app_of(token);
    if (!app) co_return app.error();
    caller c{std::move(*app), {}};
    if (credential.empty()) co_return c;
    if (core::looks_like_secret(credential)) {
        auto who = domain::authenticate_secret(*c.app, credential);
        if (!who) co_return who.error();
        c.who = std::move(*who);
        stores_.secret_used(c.app->app_id, c.who.secret_id);
        co_return c;
    }
    auto token_ok = verified(*c.app, credential);
    if (!token_ok) co_return token_ok.error();
    // The clock first: an expired token needs no lookup.
    if (auto held = domain::check_claims(token_ok->claims, wall_ms_(), 0); !held) co_return held.error();
    auto revoked = co_await revocation_of(c.app->app_id, token_ok->claims.sub);
    if (!revoked) co_return revoked.error();
    if (auto held = domain::check_claims(token_ok->claims, wall_ms_(), *revoked); !held)
        co_return held.error();
    c.who = domain::user_principal(*token_ok);
    stores_.secret_used(c.app->app_id, c.who.secret_id);
    co_return c;
}

asio::awaitable<std::optional<core::error>> access_control::authorize(const caller& c, domain::action a,
                                                                      std::optional<std::uint64_t> chat,
                                                                      std::string_view not_found_message) {
    bool member = false;
    if (domain::needs_membership(c.who, a, c.mode())) {
        // The claim is checked before the lookup, which it may spare.
        bool in_claim = !c.who.chats || (chat && std::find(c.who.chats->begin(), c.who.chats->end(), *chat) !=
                                                     c.who.chats->end());
        if (in_claim && chat) {
            auto found = co_await is_member(*c.app, *chat, c.who.user);
            if (!found) co_return found.error();
            member = *found;
        }
    }
    auto v = domain::decide(c.who, a, c.mode(), chat, member);
    if (v == domain::verdict::allow) co_return std::nullopt;
    co_return domain::refusal(v, not_found_message);
}

asio::awaitable<bool> access_control::still_holds(const caller& c, std::uint64_t chat) {
    if (c.who.is_user() && wall_ms_() >= c.who.expires_at_ms + domain::clock_leeway_ms) co_return false;
    // Authenticating again sees a deleted secret, a revocation and a change of mode; deciding again a
    // removed member. A dependency that cannot answer keeps the connection (the next heartbeat asks again).
    auto app = co_await app_of(c.token());
    if (!app) co_return app.error().code == errc::unavailable;
    const auto& now = **app;
    if (!c.who.secret_id.empty()) {
        bool kept = std::any_of(now.secrets.begin(), now.secrets.end(),
                                [&](const auto& s) { return s.id == c.who.secret_id; });
        if (!kept) co_return false;
    }
    if (c.who.is_user()) {
        auto revoked = co_await revocation_of(now.app_id, c.who.user);
        if (revoked && *revoked > 0 && c.who.issued_at_ms < *revoked) co_return false;
    }
    caller current{*app, c.who};
    std::optional<core::error> refused;
    if (chat > 0)
        refused = co_await authorize(current, domain::action::read_chat, chat, "chat not found");
    else
        refused = co_await authorize(current, domain::action::read_app, std::nullopt, "");
    if (refused && refused->code == errc::unavailable) co_return true;
    co_return !refused;
}

void access_control::forget(const domain::access_event& e) {
    std::lock_guard lock(mu_);
    switch (e.what) {
        case domain::access_event::kind::app:
            apps_.erase(e.token);
            break;
        case domain::access_event::kind::member:
            members_.erase(member_key{e.app_id, e.chat, e.user});
            break;
        case domain::access_event::kind::user:
            revocations_.erase(user_key{e.app_id, e.user});
            break;
    }
}

void access_control::forget_all() {
    std::lock_guard lock(mu_);
    tokens_.clear();
    apps_.clear();
    revocations_.clear();
    members_.clear();
}

}  // namespace chat::api
