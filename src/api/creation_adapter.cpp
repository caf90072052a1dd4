#include "api/creation_adapter.hpp"

#include <boost/asio/use_awaitable.hpp>

#include "store/numbering.hpp"
#include "store/rate_limit.hpp"

namespace chat::api {

namespace asio = boost::asio;
using core::result;

task<store::rate_decision> creation_adapter::take_token(const std::string& token, const std::string& user) {
    const store::user_limit limit{user, cfg_.user_rate_limit_rps, cfg_.user_rate_limit_burst};
    co_return co_await store::take_token(redis_, token, cfg_.rate_limit_rps, cfg_.rate_limit_burst, limit);
}

task<store::allocation> creation_adapter::allocate(const store::allocation_request& req) {
    co_return co_await store::allocate_number(redis_, req);
}

asio::awaitable<core::error> creation_adapter::unknown_parent(const std::string& what) {
    co_return co_await pool_.run([&](blocking_pool::connections& c) { return api::unknown_parent(c, what); });
}

task<store::allocation> creation_adapter::recover_chat(const std::string& token, std::uint64_t chat,
                                                       const store::allocation_request& req) {
    co_return co_await pool_.run([&](blocking_pool::connections& c) -> result<store::allocation> {
        auto app = store::registered_app_id(c.redis, token);
        if (!app || !*app) return api::unknown_parent(c, "application");
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
            return api::unknown_parent(c, "chat");
        }
        return store::allocate_number(c.redis, req);
    });
}

task<void> creation_adapter::publish(std::string event, std::string creation_id,
                                     redis_commands after_confirm) {
    co_return co_await pub_.async_publish(std::move(event), std::move(creation_id), std::move(after_confirm),
                                          asio::use_awaitable);
}

task<void> creation_adapter::register_chat(const std::string& token, std::uint64_t chat, std::uint64_t app_id,
                                           std::int64_t created_at_ms,
                                           const std::optional<std::string>& creator) {
    std::string first_member = creator.value_or("");  // (named: GCC 12 and temporaries in co_await)
    co_return co_await store::register_chat(redis_, token, chat, app_id, created_at_ms,
                                            std::move(first_member));
}

}  // namespace chat::api
