#include "api/service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/keys.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "domain/creation.hpp"
#include "domain/event.hpp"
#include "store/amqp.hpp"
#include "store/live.hpp"
#include "store/numbering.hpp"
#include "store/rate_limit.hpp"

namespace chat::api {

namespace asio = boost::asio;
namespace json = boost::json;
using core::errc;
using core::make_error;
using core::result;

namespace {

// token -> application id. The mapping never changes once created, so it is cached for the
// process's life (bounded: cleared when it grows past the cap).
class app_id_cache {
  public:
    std::optional<std::uint64_t> get(const std::string& token) {
        std::lock_guard lock(mu_);
        auto it = map_.find(token);
        if (it == map_.end()) return std::nullopt;
        return it->second;
    }
    void put(const std::string& token, std::uint64_t id) {
        std::lock_guard lock(mu_);
        if (map_.size() >= 100000) map_.clear();
        map_.emplace(token, id);
    }

  private:
    std::mutex mu_;
    std::unordered_map<std::string, std::uint64_t> map_;
};

app_id_cache& app_ids() {
    static app_id_cache cache;
    return cache;
}

}  // namespace

store_service::store_service(const core::config& cfg, asio::thread_pool& pool, store::publisher& pub,
                             store::redis::client& redis)
    : cfg_(cfg),
      pool_(pool),
      pub_(pub),
      redis_(redis),
      creation_(*this, creation_settings{.rate_limit_rps = cfg.rate_limit_rps}) {}

store_service::connections& store_service::local() {
    // Each pool thread gets its own set, made on its first call; only the map is shared.
    std::lock_guard lock(connections_mu_);
    auto& conns = connections_[std::this_thread::get_id()];
    if (!conns) conns = std::make_unique<connections>(cfg_);
    return *conns;
}

template <class F>
auto store_service::blocking(F f) -> asio::awaitable<decltype(f(std::declval<connections&>()))> {
    using R = decltype(f(std::declval<connections&>()));
    co_return co_await asio::co_spawn(
        pool_, [this, &f]() -> asio::awaitable<R> { co_return f(local()); }, asio::use_awaitable);
}

template <class F>
auto store_service::admitted(const std::string& token, F f)
    -> asio::awaitable<decltype(f(std::declval<connections&>()))> {
    // The rate-limit check rides on the operation's own trip to the blocking pool.
    co_return co_await blocking([&](connections& c) -> decltype(f(c)) {
        if (auto limited = take_token(c, token)) return *limited;
        return f(c);
    });
}

std::optional<core::error> store_service::take_token(connections& c, const std::string& token) {
    if (cfg_.rate_limit_rps <= 0) return std::nullopt;
    return rate_limit_refusal(store::take_token(c.redis, token, cfg_.rate_limit_rps, cfg_.rate_limit_burst));
}

result<std::uint64_t> store_service::resolve_app(connections& c, const std::string& token) {
    if (auto id = app_ids().get(token)) return *id;
    if (auto registered = store::registered_app_id(c.redis, token); registered && *registered) {
        app_ids().put(token, **registered);
        return **registered;
    }
    // Not in Redis (or Redis is down, or its value unreadable): MySQL is the source of truth for
    // applications.
    auto app = store::find_app(c.mysql, token);
    if (!app) return app.error();
    if (!*app) return make_error(errc::not_found, "application not found");
    app_ids().put(token, (*app)->id);
    return (*app)->id;
}

result<bool> store_service::heal_chat(connections& c, const std::string& token, std::uint64_t chat) {
    auto app_id = resolve_app(c, token);
    if (!app_id) return app_id.error();
    auto row = store::find_chat(c.mysql, *app_id, chat);
    if (!row) return row.error();
    if (!*row) return false;
    auto seq = store::highest_message_number(c.mysql, *app_id, chat);
    if (!seq) return seq.error();
    if (auto ok = store::register_chat(c.redis, token, chat, *app_id, (*row)->created_at_ms, *seq); !ok)
        return ok.error();
    spdlog::warn("chat {} of an application was missing in Redis; registered again from MySQL", chat);
    return true;
}

std::optional<core::error> store_service::chat_being_created(connections& c, const std::string& token,
                                                             std::uint64_t chat) {
    auto marked = store::unregistered_chat(c.redis, token, chat, core::now_ms());
    if (!marked) return marked.error();
    if (*marked) return make_error(errc::unavailable, "chat is still being created; retry shortly");
    return std::nullopt;
}

core::error store_service::unknown_parent(connections& c, const std::string& what) {
    auto seeded = store::is_seeded(c.redis);
    if (!seeded) return seeded.error();
    if (!*seeded)
        return make_error(errc::unavailable,
                          "numbering state is being recovered from the database; retry shortly");
    return make_error(errc::not_found, what + " not found");
}

task<store::app_row> store_service::create_app(std::string name) {
    co_return co_await blocking([&](connections& c) -> result<store::app_row> {
        auto now = core::now_ms();
        auto token = core::make_token();
        auto id = store::insert_app(c.mysql, token, name, now);
        if (!id) return id.error();
        // Registered in Redis so that chat creation can check the application without MySQL. If this
        // fails the row is an orphan nobody knows the token of; the recovery job registers it anyway.
        if (auto ok = store::register_app(c.redis, token, *id); !ok) return ok.error();
        app_ids().put(token, *id);
        return store::app_row{*id, token, name, 0, now, now};
    });
}

task<store::app_row> store_service::rename_app(std::string token, std::string name) {
    co_return co_await admitted(token, [&](connections& c) -> result<store::app_row> {
        auto ok = store::update_app_name(c.mysql, token, name, core::now_ms());
        if (!ok) return ok.error();
        if (!*ok) return make_error(errc::not_found, "application not found");
        auto app = store::find_app(c.mysql, token);
        if (!app) return app.error();
        if (!*app) return make_error(errc::not_found, "application not found");
        return **app;
    });
}

task<store::app_row> store_service::get_app(std::string token) {
    co_return co_await admitted(token, [&](connections& c) -> result<store::app_row> {
        auto app = store::find_app(c.mysql, token);
        if (!app) return app.error();
        if (!*app) return make_error(errc::not_found, "application not found");
        return **app;
    });
}

task<created_chat> store_service::create_chat(std::string token, std::optional<std::string> idempotency_key,
                                              std::string request_id) {
    co_return co_await creation_.create_chat(std::move(token), std::move(idempotency_key),
                                             std::move(request_id));
}

task<store::chat_row> store_service::get_chat(std::string token, std::uint64_t number) {
    co_return co_await admitted(token, [&](connections& c) -> result<store::chat_row> {
        auto app_id = resolve_app(c, token);
        if (!app_id) return app_id.error();
        auto row = lagging_lookup(c, [&](auto& db) { return store::find_chat(db, *app_id, number); });
        if (!row) return row.error();
        if (*row) return **row;
        // Acknowledged but not stored yet: Redis knows it (read-your-writes).
        auto meta = store::get_chat_meta(c.redis, token, number);
        if (!meta) return meta.error();
        if (*meta) return store::chat_row{number, 0, (*meta)->created_at_ms, (*meta)->created_at_ms};
        // Not even registered (Redis was away after the confirm): the handed-out mark knows the number
        // but not whether its creation was acknowledged, so the honest answer is "retry", not 200/404.
        if (auto err = chat_being_created(c, token, number)) return *err;
        return make_error(errc::not_found, "chat not found");
    });
}

task<std::vector<store::chat_row>> store_service::list_chats(std::string token, std::uint64_t after,
                                                             int limit) {
    co_return co_await admitted(token, [&](connections& c) -> result<std::vector<store::chat_row>> {
        auto app_id = resolve_app(c, token);
        if (!app_id) return app_id.error();
        return lagging(c, [&](auto& db) { return store::list_chats(db, *app_id, after, limit); });
    });
}

task<created_message> store_service::create_message(std::string token, std::uint64_t chat, std::string body,
                                                    std::optional<std::string> idempotency_key,
                                                    std::string request_id) {
    co_return co_await creation_.create_message(std::move(token), chat, std::move(body),
                                                std::move(idempotency_key), std::move(request_id));
}

task<store::rate_decision> store_service::take_token(const std::string& token) {
    co_return co_await store::take_token(redis_, token, cfg_.rate_limit_rps, cfg_.rate_limit_burst);
}

task<store::allocation> store_service::allocate(const store::allocation_request& req) {
    co_return co_await store::allocate_number(redis_, req);
}

asio::awaitable<core::error> store_service::unknown_parent(const std::string& what) {
    co_return co_await blocking([&](connections& c) { return unknown_parent(c, what); });
}

task<store::allocation> store_service::recover_chat(const std::string& token, std::uint64_t chat,
                                                    const store::allocation_request& req) {
    co_return co_await blocking([&](connections& c) -> result<store::allocation> {
        auto app = store::registered_app_id(c.redis, token);
        if (!app || !*app) return unknown_parent(c, "application");
        // A stored chat that Redis does not know: its registration was lost to a Redis outage (the
        // API's after the confirm, the worker's after storing). Register it from MySQL and allocate
        // again. No message number was ever handed out without the registration, but the counter
        // starts at the highest stored number all the same.
        auto healed = heal_chat(c, token, chat);
        if (!healed) return healed.error();
        if (!*healed) {
            // Handed out, maybe acknowledged, but neither registered nor stored yet: Redis was away
            // when the API tried to register it and the worker has not reached it. It will exist.
            if (auto err = chat_being_created(c, token, chat)) return *err;
            return unknown_parent(c, "chat");
        }
        return store::allocate_number(c.redis, req);
    });
}

task<void> store_service::publish(std::string event, std::string creation_id, redis_commands after_confirm) {
    co_return co_await pub_.async_publish(std::move(event), std::move(creation_id), std::move(after_confirm),
                                          asio::use_awaitable);
}

task<void> store_service::register_chat(const std::string& token, std::uint64_t chat, std::uint64_t app_id,
                                        std::int64_t created_at_ms) {
    co_return co_await store::register_chat(redis_, token, chat, app_id, created_at_ms);
}

task<store::message_row> store_service::get_message(std::string token, std::uint64_t chat,
                                                    std::uint64_t number) {
    co_return co_await admitted(token, [&](connections& c) -> result<store::message_row> {
        auto app_id = resolve_app(c, token);
        if (!app_id) return app_id.error();
        auto row = store::find_message(c.mysql, *app_id, chat, number);
        if (!row) return row.error();
        if (*row) return **row;
        auto pending = store::get_pending(c.redis, token, chat, number);
        if (!pending) return pending.error();
        auto seen = domain::read_pending(*pending, core::now_ms());
        if (seen.message)
            return store::message_row{chat, number, std::move(seen.message->body),
                                      seen.message->created_at_ms, seen.message->created_at_ms};
        // The worker commits a message, then clears its pending entry: if it did both between our
        // two reads, the row is committed now. (Found by chat_load at 9,600 reads/s.)
        row = store::find_message(c.mysql, *app_id, chat, number);
        if (!row) return row.error();
        if (*row) return **row;
        if (seen.state == domain::pending_state::being_created)
            return make_error(errc::unavailable, "message is still being stored; retry shortly");
        return make_error(errc::not_found, "message not found");
    });
}

task<std::vector<store::message_row>> store_service::list_messages(std::string token, std::uint64_t chat,
                                                                   std::uint64_t after, int limit) {
    co_return co_await admitted(token, [&](connections& c) -> result<std::vector<store::message_row>> {
        auto app_id = resolve_app(c, token);
        if (!app_id) return app_id.error();
        return lagging(c, [&](auto& db) { return store::list_messages(db, *app_id, chat, after, limit); });
    });
}

task<std::vector<store::message_row>> store_service::list_messages_before(std::string token,
                                                                          std::uint64_t chat,
                                                                          std::uint64_t before, int limit) {
    co_return co_await admitted(token, [&](connections& c) -> result<std::vector<store::message_row>> {
        auto app_id = resolve_app(c, token);
        if (!app_id) return app_id.error();
        return lagging(
            c, [&](auto& db) { return store::list_messages_before(db, *app_id, chat, before, limit); });
    });
}

task<std::uint64_t> store_service::last_number(std::string token, std::uint64_t chat) {
    // Not rate-limited: live streams ask on their own schedule, not per client request.
    co_return co_await blocking([&](connections& c) -> result<std::uint64_t> {
        auto meta = store::get_chat_meta(c.redis, token, chat);
        if (!meta) return meta.error();
        return *meta ? (*meta)->last_number : 0;
    });
}

task<store::message_row> store_service::edit_message(std::string token, std::uint64_t chat,
                                                     std::uint64_t number, std::string body,
                                                     std::string request_id) {
    std::uint64_t app_id = 0;
    auto updated = co_await admitted(token, [&](connections& c) -> result<void> {
        auto id = resolve_app(c, token);
        if (!id) return id.error();
        app_id = *id;
        auto ok = store::update_message_body(c.mysql, app_id, chat, number, body, core::now_ms());
        if (!ok) return ok.error();
        if (*ok) return {};
        auto pending = store::get_pending(c.redis, token, chat, number);
        if (pending && domain::read_pending(*pending, core::now_ms()).state != domain::pending_state::absent)
            return make_error(errc::conflict, "message is still being stored; retry the edit in a moment");
        // Stored and its pending entry cleared between the two reads (see get_message): try again.
        ok = store::update_message_body(c.mysql, app_id, chat, number, body, core::now_ms());
        if (!ok) return ok.error();
        if (*ok) return {};
        return make_error(errc::not_found, "message not found");
    });
    if (!updated) co_return updated.error();
    // The worker re-indexes from MySQL, so the search index follows the edit.
    domain::message_edited ev{app_id, chat, number, std::move(request_id)};
    auto published =
        co_await pub_.async_publish(domain::encode(ev), core::make_creation_id(), asio::use_awaitable);
    if (!published) co_return published.error();
    auto row = co_await blocking([&](connections& c) -> result<store::message_row> {
        auto found = store::find_message(c.mysql, app_id, chat, number);
        if (!found) return found.error();
        if (!*found) return make_error(errc::not_found, "message not found");
        return **found;
    });
    if (!row) co_return row.error();
    // Live subscribers hear of the edit; best effort (the edit is stored either way).
    // (A named value: GCC 12 miscompiles a braced temporary inside a co_await expression.)
    const domain::live_event edited{
        domain::live_kind::updated, token, chat, number, row->body, row->created_at_ms, row->updated_at_ms};
    auto sent = co_await store::publish_live(redis_, edited);
    if (!sent) spdlog::warn("live fan-out of an edit skipped");
    co_return row;
}

task<store::search_page> store_service::search(std::string token, std::uint64_t chat,
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
        auto row = lagging_lookup(c, [&](auto& db) { return store::find_chat(db, *app_id, chat); });
        if (!row) return row.error();
        if (!*row) {
            auto meta = store::get_chat_meta(c.redis, token, chat);
            if (!meta) return meta.error();
            if (!*meta) return make_error(errc::not_found, "chat not found");
        }
        return page;
    });
}

task<void> store_service::ready() {
    auto deps = co_await blocking([&](connections& c) -> result<void> {
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
    co_return deps;
}

}  // namespace chat::api
