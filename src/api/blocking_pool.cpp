#include "api/blocking_pool.hpp"

#include <spdlog/spdlog.h>

#include "core/time.hpp"
#include "store/numbering.hpp"
#include "store/repository.hpp"

namespace chat::api {

using core::errc;
using core::make_error;
using core::result;

namespace {

// token -> application id. The mapping never changes once created, so it is cached for the process's
// life (bounded: cleared when it grows past the cap).
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

result<std::uint64_t> resolve_app(blocking_pool::connections& c, const std::string& token) {
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

result<bool> heal_chat(blocking_pool::connections& c, const std::string& token, std::uint64_t chat) {
    auto app_id = resolve_app(c, token);
    if (!app_id) return app_id.error();
    auto row = store::find_chat(c.mysql, *app_id, chat);
    if (!row) return row.error();
    if (!*row || (*row)->deleted_at_ms) return false;  // a deleted chat takes no message
    auto seq = store::highest_message_number(c.mysql, *app_id, chat);
    if (!seq) return seq.error();
    if (auto ok = store::register_chat(c.redis, token, chat, *app_id, (*row)->created_at_ms, *seq); !ok)
        return ok.error();
    spdlog::warn("chat {} of an application was missing in Redis; registered again from MySQL", chat);
    return true;
}

std::optional<core::error> chat_being_created(blocking_pool::connections& c, const std::string& token,
                                              std::uint64_t chat) {
    auto marked = store::unregistered_chat(c.redis, token, chat, core::now_ms());
    if (!marked) return marked.error();
    if (*marked) return make_error(errc::unavailable, "chat is still being created; retry shortly");
    return std::nullopt;
}

core::error unknown_parent(blocking_pool::connections& c, const std::string& what) {
    auto seeded = store::is_seeded(c.redis);
    if (!seeded) return seeded.error();
    if (!*seeded)
        return make_error(errc::unavailable,
                          "numbering state is being recovered from the database; retry shortly");
    return make_error(errc::not_found, what + " not found");
}

}  // namespace chat::api
