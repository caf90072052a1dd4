#pragma once
// creation_stores over the real servers: Redis through the asynchronous client from the I/O thread (the
// rate limit, the numbering script, the registration), the broker through the group-commit publisher,
// and MariaDB on the blocking pool for the rare recovery of a chat Redis lost.
#include "api/blocking_pool.hpp"
#include "api/creation.hpp"
#include "core/config.hpp"
#include "store/async_redis.hpp"
#include "store/publisher.hpp"

namespace chat::api {

class creation_adapter final : public creation_stores {
  public:
    creation_adapter(const core::config& cfg, blocking_pool& pool, store::publisher& pub,
                     store::redis::client& redis)
        : cfg_(cfg), pool_(pool), pub_(pub), redis_(redis) {}

    task<store::rate_decision> take_token(const std::string& token, const std::string& user) override;
    task<store::allocation> allocate(const store::allocation_request& req) override;
    boost::asio::awaitable<core::error> unknown_parent(const std::string& what) override;
    task<store::allocation> recover_chat(const std::string& token, std::uint64_t chat,
                                         const store::allocation_request& req) override;
    task<void> publish(std::string event, std::string creation_id, redis_commands after_confirm) override;
    task<void> register_chat(const std::string& token, std::uint64_t chat, std::uint64_t app_id,
                             std::int64_t created_at_ms, const std::optional<std::string>& creator) override;

  private:
    const core::config& cfg_;
    blocking_pool& pool_;
    store::publisher& pub_;
    store::redis::client& redis_;
};

}  // namespace chat::api
