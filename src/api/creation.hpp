#pragma once
// The creation flow: POST chats and POST messages, from the rate limit to the broker's confirm. The
// rules it applies (what a pending entry is, when a number counts as being created) are in
// domain/creation.hpp; what it needs from the stores is the narrow interface creation_stores, so that
// unit tests run the whole flow over fakes (tests/unit/api/creation_test.cpp) and the integration
// tests prove it over the real servers. Runs on the caller's (an I/O thread's) executor; holds no
// state of its own, so any number of requests run it at once.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "store/numbering.hpp"
#include "store/rate_limit.hpp"

namespace chat::api {

template <class T>
using task = boost::asio::awaitable<core::result<T>>;

struct created_chat {
    std::uint64_t number = 0;
    std::int64_t created_at_ms = 0;
    bool replayed = false;
};

struct created_message {
    std::uint64_t number = 0;
    std::string body;
    std::int64_t created_at_ms = 0;
    bool replayed = false;
    std::optional<std::string> sender = {};
};

// What creation needs from Redis, the broker and (rarely) MariaDB. The real implementation is
// api/creation_adapter.hpp.
class creation_stores {
  public:
    using redis_commands = std::vector<std::vector<std::string>>;
    virtual ~creation_stores() = default;

    // A token from the application's rate-limit bucket and, for a user's creation, from the user's (in
    // one call; not asked when both limits are off).
    virtual task<store::rate_decision> take_token(const std::string& token, const std::string& user) = 0;
    // The numbering script: a number, a replay, or "no such parent" (see store::allocate_number).
    virtual task<store::allocation> allocate(const store::allocation_request& req) = 0;
    // Why a parent was not found: 404, or 503 while Redis is being seeded from MariaDB.
    virtual boost::asio::awaitable<core::error> unknown_parent(const std::string& what) = 0;
    // A message allocation found no chat: registers a chat that MariaDB holds and allocates again,
    // or says why not (404, or 503 while the chat is being created).
    virtual task<store::allocation> recover_chat(const std::string& token, std::uint64_t chat,
                                                 const store::allocation_request& req) = 0;
    // Publishes a persistent broker message and completes once the broker confirmed it; then runs
    // `after_confirm` on Redis (best effort, pipelined with the other confirmed messages).
    virtual task<void> publish(std::string event, std::string creation_id, redis_commands after_confirm) = 0;
    // Makes a created chat known to message creation (and its creator, if any, its member until the
    // worker stored the chat).
    virtual task<void> register_chat(const std::string& token, std::uint64_t chat, std::uint64_t app_id,
                                     std::int64_t created_at_ms,
                                     const std::optional<std::string>& creator) = 0;
};

struct creation_settings {
    int rate_limit_rps = 0;       // 0: no limit
    int user_rate_limit_rps = 0;  // per user, for creations by a user token; 0: no limit
    // Attempts to register a chat after its confirm before leaving it to the worker, and the pause
    // before the second one (it grows linearly).
    int registration_attempts = 3;
    std::chrono::milliseconds registration_pause{100};
};

// The rate limit's answer as the request's fate: errc::rate_limited (with Retry-After, counted in
// chat_rate_limited_total) when the bucket is empty; nothing when admitted, or when Redis could not
// answer: the limit fails open, it protects the service and must not cause an outage.
std::optional<core::error> rate_limit_refusal(const core::result<store::rate_decision>& decision);

class creation_flow {
  public:
    creation_flow(creation_stores& stores, creation_settings settings)
        : stores_(stores), settings_(settings) {}

    // creator: the user who creates it (its first member), if any; sender: the message's, if any.
    task<created_chat> create_chat(std::string token, std::optional<std::string> idempotency_key,
                                   std::string request_id, std::optional<std::string> creator = {});
    task<created_message> create_message(std::string token, std::uint64_t chat, std::string body,
                                         std::optional<std::string> idempotency_key, std::string request_id,
                                         std::optional<std::string> sender = {});

  private:
    // rate_limit_refusal of the application's bucket and the user's (not asked when the limits are off).
    boost::asio::awaitable<std::optional<core::error>> admit(const std::string& token,
                                                             const std::optional<std::string>& user);

    creation_stores& stores_;
    creation_settings settings_;
};

}  // namespace chat::api
