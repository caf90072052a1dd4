#include "api/chat_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "api/read_rules.hpp"
#include "core/crypto.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "domain/creation.hpp"
#include "domain/event.hpp"
#include "domain/webhook.hpp"
#include "store/amqp.hpp"
#include "store/erasure_store.hpp"
#include "store/live.hpp"
#include "store/numbering.hpp"
#include "store/rate_limit.hpp"
#include "store/read_state.hpp"
#include "store/webhook_endpoints.hpp"
#include "store/webhook_outbox.hpp"

namespace chat::api {

namespace asio = boost::asio;
namespace json = boost::json;
using connections = blocking_pool::connections;
using core::errc;
using core::make_error;
using core::result;

namespace {

// Webhook events of changes made in the request path (membership, the application's settings): recorded
// in the same transaction as the change, so neither exists without the other.
using domain::webhook_body;

store::webhook_event member_event(std::uint64_t app_id, std::uint64_t chat, const std::string& user,
                                  bool added, std::int64_t at_ms) {
    std::string kind = added ? "member.added" : "member.removed";
    auto body = webhook_body(kind, at_ms, {{"chat_number", chat}, {"user", user}});
    // Unique per change (a random part): two changes within one millisecond are two events, never one
    // deduplicated away. Nothing in the request path is recorded twice, so no key needs to repeat.
    auto key = fmt::format("{}:{}:{}:{}:{}:{}", kind, app_id, chat, at_ms, user, core::make_token());
    return {app_id, std::move(kind), chat, std::move(body), at_ms, std::move(key)};
}

store::webhook_event app_updated_event(const store::app_row& app) {
    json::value retention = app.retention_days ? json::value(*app.retention_days) : json::value(nullptr);
    auto body = webhook_body(
        "app.updated", app.updated_at_ms,
        {{"name", app.name}, {"access", domain::name_of(app.access)}, {"retention_days", retention}});
    // Unique per change, as member_event's: PUT /apps/{token} with a name, retention_days and access makes
    // up to three changes, often within one millisecond, and the last one's state must reach receivers.
    auto key = fmt::format("app.updated:{}:{}:{}", app.id, app.updated_at_ms, core::make_token());
    return {app.id, "app.updated", 0, std::move(body), app.updated_at_ms, std::move(key)};
}

// What app.updated shows of an application (never its token or secrets).
bool same_app_view(const store::app_row& a, const store::app_row& b) {
    return a.name == b.name && a.access == b.access && a.retention_days == b.retention_days;
}

// Runs `change` (returning whether it changed anything) and records `event` with it, in one transaction.
template <class F>
result<void> changed_with_event(connections& c, F change, const store::webhook_event& event) {
    store::transaction tx(c.mysql);
    if (auto ok = tx.begin(); !ok) return ok.error();
    auto changed = change();
    if (!changed) return changed.error();
    if (*changed)
        if (auto ok = store::record_webhook_events(c.mysql, {event}); !ok) return ok.error();
    return tx.commit();
}

// Runs `change` (returning whether it found the application) and reads the application back; records
// app.updated with it, in one transaction, when what the event shows changed. The application's row is
// locked first, so the state before the change is the one the change replaces.
template <class F>
result<store::app_row> app_change_with_event(connections& c, const std::string& token, F change) {
    store::transaction tx(c.mysql);
    if (auto ok = tx.begin(); !ok) return ok.error();
    auto locked = store::lock_application(c.mysql, token);
    if (!locked) return locked.error();
    if (!*locked) return make_error(errc::not_found, "application not found");
    auto before = store::find_app(c.mysql, token);
    if (!before) return before.error();
    if (!*before) return make_error(errc::not_found, "application not found");
    auto found = change();
    if (!found) return found.error();
    if (!*found) return make_error(errc::not_found, "application not found");
    auto app = store::find_app(c.mysql, token);
    if (!app) return app.error();
    if (!*app) return make_error(errc::not_found, "application not found");
    if (!same_app_view(**before, **app))
        if (auto ok = store::record_webhook_events(c.mysql, {app_updated_event(**app)}); !ok)
            return ok.error();
    if (auto ok = tx.commit(); !ok) return ok.error();
    return **app;
}

}  // namespace

namespace {

// read_port over one pool thread's connections, for one application's chats.
class store_read_port final : public read_port {
  public:
    store_read_port(connections& c, const std::string& token, std::uint64_t app_id)
        : c_(c), token_(token), app_id_(app_id) {}

    result<std::optional<store::chat_row>> stored_chat(std::uint64_t chat) override {
        return lagging_lookup(c_, [&](auto& db) { return store::find_chat(db, app_id_, chat); });
    }
    result<std::optional<store::chat_meta>> registered_chat(std::uint64_t chat) override {
        return store::get_chat_meta(c_.redis, token_, chat);
    }
    result<bool> chat_handed_out(std::uint64_t chat) override {
        auto marked = store::unregistered_chat(c_.redis, token_, chat, core::now_ms());
        if (!marked) return marked.error();
        return marked->has_value();
    }
    result<std::optional<store::message_row>> stored_message(std::uint64_t chat,
                                                             std::uint64_t number) override {
        return store::find_message(c_.mysql, app_id_, chat, number);
    }
    result<std::optional<std::string>> pending_entry(std::uint64_t chat, std::uint64_t number) override {
        return store::get_pending(c_.redis, token_, chat, number);
    }
    result<store::deletion_marks> deletions(std::uint64_t chat,
                                            std::optional<std::uint64_t> number) override {
        return store::deletion_marks_of(c_.redis, token_, chat, number);
    }

  private:
    connections& c_;
    const std::string& token_;
    std::uint64_t app_id_;
};

// A page of messages as lists show it: deletions Redis knows of and MariaDB not yet become tombstones
// too; in a deleted chat, nothing.
result<std::vector<store::message_row>> listed(connections& c, const std::string& token, std::uint64_t chat,
                                               result<std::vector<store::message_row>> rows) {
    if (!rows || rows->empty()) return rows;
    auto marks = store::deletion_marks_of(c.redis, token, chat);
    if (!marks) return marks.error();
    if (marks->chat_deleted) return make_error(errc::not_found, "chat not found");
    as_listed(*rows, *marks);
    return rows;
}

// How often a server writes the last-use times of secrets it saw used.
constexpr auto secret_use_flush_interval = std::chrono::seconds(30);

}  // namespace

chat_service::chat_service(const core::config& cfg, asio::thread_pool& pool, store::publisher& pub,
                           store::redis::client& redis)
    : cfg_(cfg),
      pool_(cfg, pool),
      pub_(pub),
      redis_(redis),
      creation_stores_(cfg, pool_, pub, redis),
      creation_(creation_stores_, creation_settings{.rate_limit_rps = cfg.rate_limit_rps,
                                                    .user_rate_limit_rps = cfg.user_rate_limit_rps}),
      access_(static_cast<access_stores&>(*this)) {}

template <class F>
auto chat_service::admitted(const std::string& token, F f)
    -> asio::awaitable<decltype(f(std::declval<connections&>()))> {
    // The rate-limit check rides on the operation's own trip to the blocking pool.
    co_return co_await pool_.run([&](connections& c) -> decltype(f(c)) {
        if (auto limited = take_token(c, token)) return *limited;
        return f(c);
    });
}

std::optional<core::error> chat_service::take_token(connections& c, const std::string& token) {
    if (cfg_.rate_limit_rps <= 0) return std::nullopt;
    return rate_limit_refusal(store::take_token(c.redis, token, cfg_.rate_limit_rps, cfg_.rate_limit_burst));
}

// ---- access ------------------------------------------------------------------------------------

task<caller> chat_service::authenticate(const std::string& token, const std::string& credential) {
    co_return co_await access_.authenticate(token, credential);
}

asio::awaitable<std::optional<core::error>> chat_service::authorize(const caller& c, domain::action a,
                                                                    std::optional<std::uint64_t> chat,
                                                                    std::string_view not_found_message) {
    co_return co_await access_.authorize(c, a, chat, not_found_message);
}

asio::awaitable<bool> chat_service::still_holds(const caller& c, std::uint64_t chat) {
    co_return co_await access_.still_holds(c, chat);
}

task<std::optional<domain::app_access>> chat_service::load_app(const std::string& token) {
    co_return co_await pool_.run([&](connections& c) { return store::load_app_access(c.mysql, token); });
}

task<std::int64_t> chat_service::load_revocation(std::uint64_t app_id, const std::string& user) {
    co_return co_await pool_.run(
        [&](connections& c) { return store::find_revocation(c.mysql, app_id, user); });
}

task<membership> chat_service::load_membership(const domain::app_access& app, std::uint64_t chat,
                                               const std::string& user) {
    co_return co_await pool_.run([&](connections& c) -> result<membership> {
        auto row = store::find_membership(c.mysql, app.app_id, chat, user);
        if (!row) return row.error();
        // A member row decides (a removal included); the worker writes the creator's row with the chat.
        if (row->member) return membership{*row->member, true};
        if (row->chat_stored) return membership{false, true};
        // Not stored yet: acknowledged chats are registered in Redis with their creator.
        auto meta = store::get_chat_meta(c.redis, app.token, chat);
        if (!meta) return meta.error();
        if (!*meta) return membership{false, false};
        return membership{(*meta)->creator == user, true};
    });
}

void chat_service::secret_used(std::uint64_t app_id, const std::string& secret_id) {
    {
        std::lock_guard lock(uses_mu_);
        auto& at = uses_[{app_id, secret_id}];
        at = std::max(at, core::now_ms());
    }
    flush_secret_uses(false);
}

void chat_service::flush_secret_uses(bool now) {
    std::vector<store::secret_use> batch;
    {
        std::lock_guard lock(uses_mu_);
        auto t = std::chrono::steady_clock::now();
        if (uses_.empty() || uses_flushing_ || (!now && t - uses_flushed_ < secret_use_flush_interval))
            return;
        for (auto& [key, at] : uses_) batch.push_back({key.first, key.second, at});
        uses_.clear();
        uses_flushed_ = t;
        uses_flushing_ = true;
    }
    // Off the request's path: a pool thread writes them (a lost batch only makes a time older).
    pool_.post([this, batch = std::move(batch)](connections& c) {
        if (auto ok = store::record_secret_uses(c.mysql, batch); !ok)
            spdlog::warn("last-use times of secrets not written: {}", ok.error().message);
        std::lock_guard lock(uses_mu_);
        uses_flushing_ = false;
    });
}

asio::awaitable<void> chat_service::announce(const domain::access_event& e) {
    access_.forget(e);
    auto sent = co_await store::publish_access(redis_, e);
    if (!sent) spdlog::warn("access change not announced to the other servers: {}", sent.error().message);
}

// ---- applications ------------------------------------------------------------------------------

task<created_app> chat_service::create_app(std::string name) {
    co_return co_await pool_.run([&](connections& c) -> result<created_app> {
        auto now = core::now_ms();
        auto token = core::make_token();
        auto secret = core::make_secret();
        domain::secret_record record{core::make_secret_id(), core::sha256(secret), now};
        auto id = store::insert_app_with_secret(c.mysql, token, name, now, record);
        if (!id) return id.error();
        // Registered in Redis so that chat creation can check the application without MySQL. If this
        // fails the row is an orphan nobody knows the token of; the recovery job registers it anyway.
        if (auto ok = store::register_app(c.redis, token, *id); !ok) return ok.error();
        return created_app{store::app_row{*id, token, name, 0, now, now, domain::access_mode::open},
                           std::move(secret), record.id};
    });
}

task<store::app_row> chat_service::rename_app(std::string token, std::string name) {
    co_return co_await admitted(token, [&](connections& c) -> result<store::app_row> {
        return app_change_with_event(
            c, token, [&] { return store::update_app_name(c.mysql, token, name, core::now_ms()); });
    });
}

task<store::app_row> chat_service::get_app(std::string token) {
    co_return co_await admitted(token, [&](connections& c) -> result<store::app_row> {
        auto app = store::find_app(c.mysql, token);
        if (!app) return app.error();
        if (!*app) return make_error(errc::not_found, "application not found");
        return **app;
    });
}

task<store::app_row> chat_service::set_access(const caller& who, domain::access_mode mode) {
    auto row = co_await admitted(who.token(), [&](connections& c) -> result<store::app_row> {
        return app_change_with_event(c, who.token(), [&]() -> result<bool> {
            auto ok = store::set_access_mode(c.mysql, who.app->app_id, mode, core::now_ms());
            if (!ok) return ok.error();
            return true;
        });
    });
    if (!row) co_return row.error();
    domain::access_event changed{.what = domain::access_event::kind::app,
                                 .token = who.token(),
                                 .app_id = who.app->app_id,
                                 .restricted = mode == domain::access_mode::restricted};
    co_await announce(changed);
    co_return row;
}

task<issued_secret> chat_service::add_secret(const caller& who) {
    auto issued = co_await admitted(who.token(), [&](connections& c) -> result<issued_secret> {
        auto secret = core::make_secret();
        domain::secret_record record{core::make_secret_id(), core::sha256(secret), core::now_ms()};
        if (auto ok = store::insert_secret(c.mysql, who.app->app_id, record); !ok) return ok.error();
        return issued_secret{record.id, std::move(secret), record.created_at_ms};
    });
    if (!issued) co_return issued.error();
    domain::access_event changed{.what = domain::access_event::kind::app,
                                 .token = who.token(),
                                 .app_id = who.app->app_id,
                                 .restricted = who.mode() == domain::access_mode::restricted};
    co_await announce(changed);
    co_return issued;
}

task<std::vector<store::secret_listing>> chat_service::list_secrets(const caller& who) {
    flush_secret_uses(true);
    co_return co_await admitted(
        who.token(), [&](connections& c) { return store::list_secrets(c.mysql, who.app->app_id); });
}

task<void> chat_service::delete_secret(const caller& who, std::string id) {
    auto deleted = co_await admitted(who.token(), [&](connections& c) -> result<void> {
        auto outcome = store::delete_secret(c.mysql, who.app->app_id, id);
        if (!outcome) return outcome.error();
        switch (*outcome) {
            case store::secret_deletion::not_found:
                return make_error(errc::not_found, "secret not found");
            case store::secret_deletion::last_secret:
                return make_error(errc::conflict,
                                  "an application keeps at least one secret: issue another one first");
            case store::secret_deletion::deleted:
                break;
        }
        return {};
    });
    if (!deleted) co_return deleted.error();
    // Every server forgets it, and ends what it authenticated or signed.
    domain::access_event changed{.what = domain::access_event::kind::app,
                                 .token = who.token(),
                                 .app_id = who.app->app_id,
                                 .secret_id = id,
                                 .restricted = who.mode() == domain::access_mode::restricted};
    co_await announce(changed);
    co_return core::result<void>{};
}

task<minted_token> chat_service::mint_token(const caller& who, std::string user, int ttl_s,
                                            std::optional<std::vector<std::uint64_t>> chats) {
    const domain::secret_record* key = nullptr;
    for (const auto& s : who.app->secrets)
        if (s.id == who.who.secret_id) key = &s;
    if (key == nullptr)
        co_return make_error(errc::unauthorized, "the credential is not valid for this application");
    auto now = core::now_ms();
    // Whole seconds, as JWT libraries expect (PyJWT refuses an iat with a fraction as "not yet valid"
    // within its second). So a token minted in the second of its user's revocation is refused too.
    json::object claims{{"sub", user}, {"iat", now / 1000}, {"exp", now / 1000 + ttl_s}};
    if (chats) {
        json::array list;
        for (auto n : *chats) list.push_back(n);
        claims["chats"] = std::move(list);
    }
    auto signed_token = core::sign_hs256(json::serialize(claims), key->hash, key->id);
    if (!signed_token) co_return signed_token.error();
    co_return minted_token{std::move(*signed_token), (now / 1000 + ttl_s) * 1000};
}

task<std::int64_t> chat_service::revoke_user(const caller& who, std::string user) {
    auto now = core::now_ms();
    auto done = co_await admitted(who.token(), [&](connections& c) {
        return store::put_revocation(c.mysql, who.app->app_id, user, now);
    });
    if (!done) co_return done.error();
    domain::access_event changed{.what = domain::access_event::kind::user,
                                 .token = who.token(),
                                 .app_id = who.app->app_id,
                                 .user = user,
                                 .before_ms = now};
    co_await announce(changed);
    co_return now;
}

// ---- members -----------------------------------------------------------------------------------

task<store::member_row> chat_service::add_member(const caller& who, std::uint64_t chat, std::string user) {
    auto now = core::now_ms();
    auto added = co_await admitted(who.token(), [&](connections& c) -> result<void> {
        store_read_port port(c, who.token(), who.app->app_id);
        if (auto absent = chat_absence(port, chat)) return *absent;
        return changed_with_event(
            c, [&] { return store::put_member(c.mysql, who.app->app_id, chat, user, true, now); },
            member_event(who.app->app_id, chat, user, true, now));
    });
    if (!added) co_return added.error();
    domain::access_event changed{.what = domain::access_event::kind::member,
                                 .token = who.token(),
                                 .app_id = who.app->app_id,
                                 .chat = chat,
                                 .user = user};
    co_await announce(changed);
    co_return store::member_row{std::move(user), now};
}

task<void> chat_service::remove_member(const caller& who, std::uint64_t chat, std::string user) {
    auto removed = co_await admitted(who.token(), [&](connections& c) -> result<void> {
        store_read_port port(c, who.token(), who.app->app_id);
        if (auto absent = chat_absence(port, chat)) return *absent;
        const auto now = core::now_ms();
        return changed_with_event(
            c, [&] { return store::put_member(c.mysql, who.app->app_id, chat, user, false, now); },
            member_event(who.app->app_id, chat, user, false, now));
    });
    if (!removed) co_return removed.error();
    domain::access_event changed{.what = domain::access_event::kind::member,
                                 .token = who.token(),
                                 .app_id = who.app->app_id,
                                 .chat = chat,
                                 .user = user,
                                 .removed = true};
    co_await announce(changed);
    co_return core::result<void>{};
}

task<std::vector<store::member_row>> chat_service::list_members(const caller& who, std::uint64_t chat,
                                                                std::string after_user, int limit) {
    co_return co_await admitted(who.token(), [&](connections& c) -> result<std::vector<store::member_row>> {
        auto rows = store::list_members(c.mysql, who.app->app_id, chat, after_user, limit);
        if (!rows || !rows->empty()) return rows;
        store_read_port port(c, who.token(), who.app->app_id);
        if (auto absent = chat_absence(port, chat)) return *absent;
        return rows;
    });
}

// ---- chats and messages ------------------------------------------------------------------------

task<created_chat> chat_service::create_chat(std::string token, std::optional<std::string> idempotency_key,
                                             std::string request_id, std::optional<std::string> creator) {
    co_return co_await creation_.create_chat(std::move(token), std::move(idempotency_key),
                                             std::move(request_id), std::move(creator));
}

task<store::chat_row> chat_service::get_chat(std::string token, std::uint64_t number) {
    co_return co_await admitted(token, [&](connections& c) -> result<store::chat_row> {
        auto app_id = resolve_app(c, token);
        if (!app_id) return app_id.error();
        store_read_port port(c, token, *app_id);
        return read_chat(port, number);
    });
}

task<std::vector<store::chat_row>> chat_service::list_chats(std::string token, std::uint64_t after, int limit,
                                                            chat_filter filter) {
    co_return co_await admitted(token, [&](connections& c) -> result<std::vector<store::chat_row>> {
        auto app_id = resolve_app(c, token);
        if (!app_id) return app_id.error();
        if (filter.member)
            return lagging(c, [&](auto& db) {
                return store::list_user_chats(db, *app_id, *filter.member, after, limit, filter.chats);
            });
        return lagging(c,
                       [&](auto& db) { return store::list_chats(db, *app_id, after, limit, filter.chats); });
    });
}

task<created_message> chat_service::create_message(std::string token, std::uint64_t chat, std::string body,
                                                   std::optional<std::string> idempotency_key,
                                                   std::string request_id,
                                                   std::optional<std::string> sender) {
    co_return co_await creation_.create_message(std::move(token), chat, std::move(body),
                                                std::move(idempotency_key), std::move(request_id),
                                                std::move(sender));
}

task<store::message_row> chat_service::get_message(std::string token, std::uint64_t chat,
                                                   std::uint64_t number) {
    co_return co_await admitted(token, [&](connections& c) -> result<store::message_row> {
        auto app_id = resolve_app(c, token);
        if (!app_id) return app_id.error();
        store_read_port port(c, token, *app_id);
        return read_message(port, chat, number, core::now_ms());
    });
}

task<std::vector<store::message_row>> chat_service::list_messages(std::string token, std::uint64_t chat,
                                                                  std::uint64_t after, int limit) {
    co_return co_await admitted(token, [&](connections& c) -> result<std::vector<store::message_row>> {
        auto app_id = resolve_app(c, token);
        if (!app_id) return app_id.error();
        auto rows =
            lagging(c, [&](auto& db) { return store::list_messages(db, *app_id, chat, after, limit); });
        return listed(c, token, chat, std::move(rows));
    });
}

task<std::vector<store::message_row>> chat_service::list_messages_before(std::string token,
                                                                         std::uint64_t chat,
                                                                         std::uint64_t before, int limit) {
    co_return co_await admitted(token, [&](connections& c) -> result<std::vector<store::message_row>> {
        auto app_id = resolve_app(c, token);
        if (!app_id) return app_id.error();
        auto rows = lagging(
            c, [&](auto& db) { return store::list_messages_before(db, *app_id, chat, before, limit); });
        return listed(c, token, chat, std::move(rows));
    });
}

task<std::uint64_t> chat_service::last_number(std::string token, std::uint64_t chat) {
    // Not rate-limited: live streams ask on their own schedule, not per client request.
    co_return co_await pool_.run([&](connections& c) -> result<std::uint64_t> {
        auto meta = store::get_chat_meta(c.redis, token, chat);
        if (!meta) return meta.error();
        return *meta ? (*meta)->last_number : 0;
    });
}

task<store::message_row> chat_service::edit_message(std::string token, std::uint64_t chat,
                                                    std::uint64_t number, std::string body,
                                                    std::string request_id, domain::principal editor) {
    std::uint64_t app_id = 0;
    auto updated = co_await admitted(token, [&](connections& c) -> result<void> {
        auto id = resolve_app(c, token);
        if (!id) return id.error();
        app_id = *id;
        auto marks = store::deletion_marks_of(c.redis, token, chat, number);
        if (!marks) return marks.error();
        if (marks->chat_deleted) return make_error(errc::not_found, "message not found");
        if (marks->messages.count(number)) return make_error(errc::gone, "message was deleted");
        // A user's edit changes the row only if the user sent it: checked by the UPDATE itself, so a
        // message stored between a check and the update cannot slip through.
        std::optional<std::string> only_sender;
        if (editor.is_user()) only_sender = editor.user;
        for (int attempt = 0; attempt < 2; ++attempt) {
            auto ok =
                store::update_message_body(c.mysql, app_id, chat, number, body, core::now_ms(), only_sender);
            if (!ok) return ok.error();
            if (*ok) return {};
            if (only_sender) {
                auto sender = store::find_message_sender(c.mysql, app_id, chat, number);
                if (!sender) return sender.error();
                if (*sender && domain::may_change_message(editor, **sender) != domain::verdict::allow)
                    return make_error(errc::forbidden, "only its sender may change a message");
            }
            auto stored = store::find_message(c.mysql, app_id, chat, number);
            if (!stored) return stored.error();
            if (*stored && (*stored)->deleted()) return make_error(errc::gone, "message was deleted");
            if (attempt > 0) break;
            auto pending = store::get_pending(c.redis, token, chat, number);
            if (pending &&
                domain::read_pending(*pending, core::now_ms()).state != domain::pending_state::absent)
                return make_error(errc::conflict,
                                  "message is still being stored; retry the edit in a moment");
            // Stored and its pending entry cleared between the two reads (see read_message): try again.
        }
        return make_error(errc::not_found, "message not found");
    });
    if (!updated) co_return updated.error();
    // The worker re-indexes from MySQL, so the search index follows the edit.
    domain::message_edited ev{app_id, chat, number, std::move(request_id)};
    auto published =
        co_await pub_.async_publish(domain::encode(ev), core::make_creation_id(), asio::use_awaitable);
    if (!published) co_return published.error();
    auto row = co_await pool_.run([&](connections& c) -> result<store::message_row> {
        auto found = store::find_message(c.mysql, app_id, chat, number);
        if (!found) return found.error();
        if (!*found) return make_error(errc::not_found, "message not found");
        return **found;
    });
    if (!row) co_return row.error();
    // Live subscribers hear of the edit; best effort (the edit is stored either way).
    // (A named value: GCC 12 miscompiles a braced temporary inside a co_await expression.)
    const domain::live_event edited{domain::live_kind::updated,
                                    token,
                                    chat,
                                    number,
                                    row->body,
                                    row->created_at_ms,
                                    row->updated_at_ms,
                                    row->sender,
                                    std::nullopt,
                                    row->version,
                                    row->edited_at_ms};
    auto sent = co_await store::publish_live(redis_, edited);
    if (!sent) spdlog::warn("live fan-out of an edit skipped");
    co_return row;
}

// ---- lifecycle ----------------------------------------------------------------------------------

task<void> chat_service::delete_message(const caller& who, std::uint64_t chat, std::uint64_t number,
                                        std::string request_id) {
    const std::string& token = who.token();
    const std::uint64_t app_id = who.app->app_id;
    // It must exist (stored, or acknowledged: a deletion may overtake its creation in the queue) and
    // be the caller's.
    auto found = co_await admitted(token, [&](connections& c) -> result<store::message_row> {
        store_read_port port(c, token, app_id);
        return read_message(port, chat, number, core::now_ms());
    });
    if (!found && found.error().code == errc::gone) co_return result<void>{};  // deleted already
    if (!found) co_return found.error();
    if (domain::may_change_message(who.who, found->sender) != domain::verdict::allow)
        co_return make_error(errc::forbidden, "only its sender may delete a message");
    const auto now = core::now_ms();
    const domain::message_deleted ev{
        app_id, token, chat, number, now, std::move(request_id), found->created_at_ms};
    // After the confirm: every read sees the deletion at once, then subscribers hear of it.
    auto after_confirm = store::deletion_commands(token, chat, number, now);
    const domain::live_event deleted{domain::live_kind::deleted, token, chat,          number, {},
                                     found->created_at_ms,       now,   found->sender, now};
    after_confirm.push_back(store::live_publish_command(deleted));
    auto body = domain::encode(domain::event{ev});
    auto published = co_await pub_.async_publish(std::move(body), core::make_creation_id(),
                                                 std::move(after_confirm), asio::use_awaitable);
    if (!published) co_return published.error();
    co_return result<void>{};
}

task<std::vector<store::message_version>> chat_service::list_versions(std::string token, std::uint64_t chat,
                                                                      std::uint64_t number) {
    co_return co_await admitted(token, [&](connections& c) -> result<std::vector<store::message_version>> {
        auto app_id = resolve_app(c, token);
        if (!app_id) return app_id.error();
        store_read_port port(c, token, *app_id);
        auto current = read_message(port, chat, number, core::now_ms());
        if (!current) return current.error();
        auto older = store::list_versions(c.mysql, *app_id, chat, number);
        if (!older) return older.error();
        std::vector<store::message_version> out;
        // (An edit between the two reads leaves a version that is also the current one: shown once.)
        for (auto& v : *older)
            if (v.version < current->version) out.push_back(std::move(v));
        out.push_back(
            {current->version, current->body, current->edited_at_ms.value_or(current->created_at_ms)});
        return out;
    });
}

task<void> chat_service::delete_chat(const caller& who, std::uint64_t chat, std::string request_id) {
    const std::string& token = who.token();
    const std::uint64_t app_id = who.app->app_id;
    auto found = co_await admitted(token, [&](connections& c) -> result<store::chat_row> {
        store_read_port port(c, token, app_id);
        return read_chat(port, chat);
    });
    if (!found) co_return found.error();
    const auto now = core::now_ms();
    const domain::chat_deleted ev{app_id, token, chat, now, std::move(request_id)};
    // After the confirm: no message is numbered in it any more, reads answer 404, its streams end.
    const domain::live_event gone{domain::live_kind::chat_deleted, token, chat, 0, {}, 0, now};
    store::publisher::redis_commands after_confirm{store::chat_deletion_command(token, chat, now),
                                                   store::live_publish_command(gone)};
    auto body = domain::encode(domain::event{ev});
    auto published = co_await pub_.async_publish(std::move(body), core::make_creation_id(),
                                                 std::move(after_confirm), asio::use_awaitable);
    if (!published) co_return published.error();
    co_return result<void>{};
}

task<std::int64_t> chat_service::erase_user(const caller& who, std::string user, std::string request_id) {
    const std::string& token = who.token();
    const auto now = core::now_ms();
    // Its tokens go at once, like POST …/revoke (an access change, written in the request path).
    auto revoked = co_await admitted(
        token, [&](connections& c) { return store::put_revocation(c.mysql, who.app->app_id, user, now); });
    if (!revoked) co_return revoked.error();
    domain::access_event changed{.what = domain::access_event::kind::user,
                                 .token = token,
                                 .app_id = who.app->app_id,
                                 .user = user,
                                 .before_ms = now};
    co_await announce(changed);
    const domain::user_erased ev{who.app->app_id, token, user, now, std::move(request_id)};
    store::publisher::redis_commands after_confirm{store::erasure_queued_command(token, user, now)};
    auto body = domain::encode(domain::event{ev});
    auto published = co_await pub_.async_publish(std::move(body), core::make_creation_id(),
                                                 std::move(after_confirm), asio::use_awaitable);
    if (!published) co_return published.error();
    co_return now;
}

task<user_erasure> chat_service::erasure_status(const caller& who, std::string user) {
    co_return co_await admitted(who.token(), [&](connections& c) -> result<user_erasure> {
        auto recorded = store::user_erasure(c.mysql, who.app->app_id, user);
        if (!recorded) return recorded.error();
        if (*recorded) {
            const auto& r = **recorded;
            return user_erasure{r.finished_at_ms ? user_erasure::state::done : user_erasure::state::running,
                                r.requested_at_ms, r.finished_at_ms, r.erased};
        }
        auto queued = store::erasure_queued(c.redis, who.token(), user);
        if (!queued) return queued.error();
        if (!*queued) return make_error(errc::not_found, "no erasure of this user was requested");
        return user_erasure{user_erasure::state::queued, **queued, std::nullopt, 0};
    });
}

task<store::read_state> chat_service::mark_read(const caller& who, std::uint64_t chat, std::uint64_t number,
                                                std::string request_id) {
    if (!who.who.is_user())
        co_return make_error(errc::forbidden, "a read marker is a user's: this needs a user token");
    const std::string& token = who.token();
    const std::string& user = who.who.user;
    bool moved = false;
    auto state = co_await admitted(token, [&](connections& c) -> result<store::read_state> {
        store_read_port port(c, token, who.app->app_id);
        if (auto absent = chat_absence(port, chat)) return *absent;
        auto move = store::move_marker(c.redis, token, chat, user, number);
        if (!move) return move.error();
        if (!*move) return make_error(errc::invalid_field, "number is above the chat's last message");
        moved = (*move)->moved;
        auto states = store::read_states(c.redis, token, {chat}, user);
        if (!states) return states.error();
        if (states->empty()) return make_error(errc::internal, "no read state");
        return states->front();
    });
    if (!state) co_return state.error();
    // MariaDB keeps a copy (Redis is recovered from it): the marker as it is now, on every accepted
    // call, so a retry after a failed publish still writes it (the worker keeps the highest).
    const domain::read_marked ev{who.app->app_id,      token, chat, user, state->marker, core::now_ms(),
                                 std::move(request_id)};
    store::publisher::redis_commands after_confirm;
    if (moved) {
        domain::live_event read{domain::live_kind::read, token, chat, state->marker, {}, 0,
                                core::now_ms(),          user};
        after_confirm.push_back(store::live_publish_command(read));
    }
    auto body = domain::encode(domain::event{ev});
    auto published = co_await pub_.async_publish(std::move(body), core::make_creation_id(),
                                                 std::move(after_confirm), asio::use_awaitable);
    if (!published) co_return published.error();
    co_return state;
}

task<std::map<std::string, std::uint64_t>> chat_service::read_markers(std::string token, std::uint64_t chat) {
    co_return co_await admitted(token, [&](connections& c) -> result<std::map<std::string, std::uint64_t>> {
        auto app_id = resolve_app(c, token);
        if (!app_id) return app_id.error();
        store_read_port port(c, token, *app_id);
        if (auto absent = chat_absence(port, chat)) return *absent;
        return store::markers(c.redis, token, chat);
    });
}

task<std::vector<store::read_state>> chat_service::read_states(std::string token,
                                                               std::vector<std::uint64_t> chats,
                                                               std::string user) {
    if (chats.empty()) co_return std::vector<store::read_state>{};
    co_return co_await pool_.run(
        [&](connections& c) { return store::read_states(c.redis, token, chats, user); });
}

task<store::app_row> chat_service::set_retention(const caller& who, std::optional<int> days) {
    co_return co_await admitted(who.token(), [&](connections& c) -> result<store::app_row> {
        return app_change_with_event(c, who.token(), [&]() -> result<bool> {
            auto ok = store::set_retention(c.mysql, who.app->app_id, days, core::now_ms());
            if (!ok) return ok.error();
            return true;
        });
    });
}

task<store::search_page> chat_service::search(std::string token, std::uint64_t chat,
                                              std::vector<std::string> fragments, std::size_t from,
                                              std::size_t size, store::search_options options) {
    co_return co_await admitted(token, [&](connections& c) -> result<store::search_page> {
        auto app_id = resolve_app(c, token);
        if (!app_id) return app_id.error();
        // A hit is a message of the chat, so the chat exists: only an empty page (or a search that
        // failed, which answers 404 rather than 503 for a chat that does not exist) needs the
        // existence check (a MySQL query on the blocking thread: skipping it on hits took the closed
        // loop through the API from 1,435-1,558 to 2,118-2,196 searches/s, interleaved, warm).
        auto page = c.es.search(*app_id, chat, fragments, from, size, options);
        if (page && !page->hits.empty()) return page;
        store_read_port port(c, token, *app_id);
        if (auto absent = chat_absence(port, chat)) return *absent;
        return page;
    });
}

task<void> chat_service::ready() {
    co_return co_await pool_.run([&](connections& c) -> result<void> {
        if (!store::ping(c.redis)) return make_error(errc::unavailable, "redis is not reachable");
        if (!store::check_reachable(c.mysql)) return make_error(errc::unavailable, "mysql is not reachable");
        auto health = c.es.request("GET", "/_cluster/health");
        if (!health || health->status != 200)
            return make_error(errc::unavailable, "elasticsearch is not reachable");
        store::amqp_session amqp(cfg_.amqp);
        if (auto ok = amqp.open(false); !ok)
            return make_error(errc::unavailable, "rabbitmq is not reachable");
        return {};
    });
}

// ---- webhooks ------------------------------------------------------------------------------------

namespace {

core::error webhook_not_found() {
    return make_error(errc::not_found, "webhook not found");
}

// Unless private targets are allowed, a URL whose host resolves to a private or reserved address (or
// to nothing) is refused when registered; the sender checks every connection again.
result<void> check_webhook_target(const std::string& url, const core::config& cfg) {
    auto parsed = domain::parse_webhook_url(url, {cfg.webhook_allow_http, cfg.webhook_allow_private});
    if (!parsed) return parsed.error();
    if (cfg.webhook_allow_private) return {};
    auto addresses = store::resolve_webhook_host(parsed->host);
    if (addresses.empty()) return make_error(errc::invalid_field, "url: its host does not resolve");
    for (const auto& a : addresses)
        if (domain::forbidden_address(a))
            return make_error(errc::invalid_field, "url resolves to a private or reserved address");
    return {};
}

}  // namespace

task<store::webhook_endpoint> chat_service::create_webhook(const caller& who, std::string url,
                                                           std::vector<std::string> events) {
    co_return co_await admitted(who.token(), [&](connections& c) -> result<store::webhook_endpoint> {
        if (auto ok = check_webhook_target(url, cfg_); !ok) return ok.error();
        const auto now = core::now_ms();
        store::webhook_endpoint w{domain::make_webhook_id(),
                                  url,
                                  events,
                                  domain::make_webhook_secret(),
                                  true,
                                  std::nullopt,
                                  std::nullopt,
                                  now,
                                  now};
        if (auto ok = store::insert_webhook(c.mysql, who.app->app_id, w); !ok) return ok.error();
        return w;
    });
}

task<std::vector<store::webhook_endpoint>> chat_service::list_webhooks(const caller& who) {
    co_return co_await admitted(
        who.token(), [&](connections& c) { return store::list_webhooks(c.mysql, who.app->app_id); });
}

task<store::webhook_endpoint> chat_service::get_webhook(const caller& who, std::string id) {
    co_return co_await admitted(who.token(), [&](connections& c) -> result<store::webhook_endpoint> {
        auto found = store::find_webhook(c.mysql, who.app->app_id, id);
        if (!found) return found.error();
        if (!*found) return webhook_not_found();
        return std::move(**found);
    });
}

task<store::webhook_endpoint> chat_service::update_webhook(const caller& who, std::string id,
                                                           store::webhook_change change) {
    co_return co_await admitted(who.token(), [&](connections& c) -> result<store::webhook_endpoint> {
        if (change.url)
            if (auto ok = check_webhook_target(*change.url, cfg_); !ok) return ok.error();
        auto updated = store::update_webhook(c.mysql, who.app->app_id, id, change, core::now_ms());
        if (!updated) return updated.error();
        if (!*updated) return webhook_not_found();
        auto found = store::find_webhook(c.mysql, who.app->app_id, id);
        if (!found) return found.error();
        if (!*found) return webhook_not_found();
        return std::move(**found);
    });
}

task<void> chat_service::delete_webhook(const caller& who, std::string id) {
    co_return co_await admitted(who.token(), [&](connections& c) -> result<void> {
        auto deleted = store::delete_webhook(c.mysql, who.app->app_id, id);
        if (!deleted) return deleted.error();
        if (!*deleted) return webhook_not_found();
        return {};
    });
}

task<rotated_webhook_secret> chat_service::rotate_webhook(const caller& who, std::string id) {
    co_return co_await admitted(who.token(), [&](connections& c) -> result<rotated_webhook_secret> {
        constexpr std::int64_t keep_previous_ms = 24LL * 3600 * 1000;
        const auto now = core::now_ms();
        rotated_webhook_secret out{domain::make_webhook_secret(), now + keep_previous_ms};
        auto rotated = store::rotate_webhook_secret(c.mysql, who.app->app_id, id, out.signing_secret, now,
                                                    out.previous_valid_until_ms);
        if (!rotated) return rotated.error();
        if (!*rotated) return webhook_not_found();
        return out;
    });
}

task<store::webhook_attempt_page> chat_service::webhook_attempts(
    const caller& who, std::string id, std::optional<std::pair<std::uint64_t, int>> before, int limit) {
    co_return co_await admitted(who.token(), [&](connections& c) -> result<store::webhook_attempt_page> {
        auto page = store::list_webhook_attempts(c.mysql, who.app->app_id, id, before, limit);
        if (!page) return page.error();
        if (!*page) return webhook_not_found();
        return std::move(**page);
    });
}

task<std::uint64_t> chat_service::replay_webhook(const caller& who, std::string id, std::int64_t since_ms) {
    co_return co_await admitted(who.token(), [&](connections& c) -> result<std::uint64_t> {
        auto replayed = store::replay_webhook(c.mysql, who.app->app_id, id, since_ms);
        if (!replayed) return replayed.error();
        if (!*replayed) return webhook_not_found();
        return **replayed;
    });
}

}  // namespace chat::api
